// The vote form's htmx extension (hx-ext="vote-retry"): each press of Vote gets a random key,
// sent as the "press" field; when ingest or the edge answers 503 or 429 with Retry-After, the
// form says so, waits that long plus jitter and resends the same press (counted once however
// often it arrives), and after a few tries stops and says so. The words come from the form's
// data-retry-busy and data-retry-gave-up attributes, in the page's language.
(function () {
  var TRIES = 4 // sends of one press, the first included
  var LONGEST = 30 // seconds; a longer Retry-After is shown as the server's own answer

  function newKey () {
    var bytes = new Uint8Array(16)
    crypto.getRandomValues(bytes)
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1) }).join('')
  }

  function say (target, text) {
    target.innerHTML = '<p class="notice busy" role="status"></p>'
    target.firstChild.textContent = text
  }

  htmx.defineExtension('vote-retry', {
    onEvent: function (name, evt) {
      var d = evt.detail
      var form, press
      if (name === 'htmx:configRequest') {
        form = d.elt
        press = form.voteRetry
        if (!press || !press.resending) {
          // A new press of the button (a press during a wait replaces the pending resend).
          if (press) clearTimeout(press.timer)
          form.voteRetry = press = { key: newKey(), sends: 0 }
        }
        // A resend says so: the edge keeps connections to ingest for resends (cdn/routing.vcl).
        if (press.resending) d.headers['X-Vote-Resend'] = '1'
        press.resending = false
        press.sends++
        d.parameters.press = press.key
      } else if (name === 'htmx:beforeSwap') {
        form = d.requestConfig.elt
        press = form.voteRetry
        var status = d.xhr.status
        var wait = parseInt(d.xhr.getResponseHeader('Retry-After'), 10)
        if (!press || (status !== 503 && status !== 429) || !(wait >= 0) || wait > LONGEST) return
        d.shouldSwap = false
        if (press.sends >= TRIES) {
          form.voteRetry = null
          say(d.target, form.getAttribute('data-retry-gave-up'))
          return
        }
        var seconds = wait + Math.random() * 2
        say(d.target, form.getAttribute('data-retry-busy').replace('{n}', Math.ceil(seconds)))
        press.timer = setTimeout(function () {
          press.resending = true
          htmx.trigger(form, 'submit')
        }, seconds * 1000)
      }
    }
  })
})()
