// When a vote comes back challenged, solve its proof of work in a Web Worker and send the vote
// again by itself. Without Workers (or if solving fails) the time lock in the answer remains.
"use strict";

document.addEventListener("htmx:afterSwap", (event) => {
  const box = event.target.querySelector("[data-pow-challenge]");
  const form = box && box.closest("form");
  if (!form || !window.Worker) return;
  const worker = new Worker(box.dataset.powWorker);
  const solving = box.querySelector(".vote-solving");
  if (solving) solving.hidden = false;
  worker.onmessage = (message) => {
    worker.terminate();
    if (!message.data || !box.isConnected) return;
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "altcha";
    input.value = message.data;
    box.appendChild(input);
    form.requestSubmit();
  };
  worker.postMessage(JSON.parse(box.dataset.powChallenge));
});
