vcl 4.1;
// Votes go to ingest, everything else to web; only GET/HEAD of fan paths are cached.
// This is the last vcl_recv: it always returns.

sub vcl_recv {
    // A receipt in another language (/ko/votes/<receipt>) goes to ingest too; ingest knows the
    // languages and answers an unknown prefix 404.
    if (req.url ~ "^(/[a-z]{2}(-[a-z]{2})?)?/votes(/|\?|$)") {
        // A resend after Retry-After (the htmx form marks it) has its own connections to
        // ingest (scripts/edge.sh): under overload the first presses are shed at once, while
        // the fans who already waited get in, instead of losing the draw again.
        if (req.method == "POST" && req.http.X-Vote-Resend) {
            set req.backend_hint = ingest_resend;
        } else {
            set req.backend_hint = ingest;
        }
        unset req.http.X-Vote-Resend;
        return (pass);
    }
    set req.backend_hint = web;
    if (req.url ~ "^/metrics(\?|$)" && client.ip !~ purgers) {
        // Operational gauges are for the operators' network (the purgers ACL), not the public.
        return (synth(404, "Not Found"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/(admin|healthz|metrics)(/|\?|$)") {
        return (pass);
    }
    return (hash);
}

sub vcl_backend_fetch {
    if (bereq.method == "POST" && bereq.url ~ "^(/[a-z]{2}(-[a-z]{2})?)?/votes(/|\?|$)") {
        // Connections to ingest are reused, and on a reused connection that fails before the
        // answer, Varnish silently resends the request once (its body is cached, normalize.vcl).
        // If ingest had queued the vote before the connection died, a vote without the
        // browser's press key would be queued twice, for a newly minted voter (make chaos
        // counted 9 such votes twice when an ingest worker was killed). So every vote fetch
        // carries its own id, the same on the resend, and ingest takes it as the press key of
        // a vote that has none: the resend answers the first send's receipt. A fresh connection
        // per vote instead cost a TCP handshake and an accept() per vote, and a spike's worth of
        // them (tests/test_ingest_lost_reply.py has the resend).
        set bereq.http.X-Edge-Fetch-Id = "edge-"
            + std.integer(real=std.random(1000000000, 2000000000), fallback=0) + "-"
            + std.integer(real=std.random(1000000000, 2000000000), fallback=0) + "-"
            + bereq.xid;
    }
}

sub vcl_backend_response {
    if (bereq.url ~ "^/(media|static)/" && beresp.status == 200
        && beresp.http.Cache-Control ~ "immutable") {
        // Fingerprinted files never change under their URL: keep serving them through outages.
        set beresp.grace = 7d;
    }
}

sub vcl_backend_error {
    if (bereq.url ~ "^(/[a-z]{2}(-[a-z]{2})?)?/votes(/|\?|$)") {
        // Ingest could not be reached, or all of the edge's connections to it are busy
        // (.max_connections in backends.vcl): answer at once, never queue or time out. The
        // htmx form waits Retry-After and resends; the jitter (2-5 s) spreads the resends.
        // Usually nothing reached ingest; if ingest died mid-vote, the vote may be queued, and
        // the htmx resend of the same press key gets its receipt (tests/test_ingest_lost_reply.py).
        set beresp.http.Content-Type = "text/html; charset=utf-8";
        set beresp.http.Cache-Control = "private, no-store";
        set beresp.http.Retry-After = std.integer(real=std.random(2, 6), fallback=5);
        set beresp.http.X-Edge-Shed = "1";
        if (bereq.http.HX-Request == "true") {
            set beresp.body = {"<div class="notice error vote-problem" role="alert"><p>We're very busy right now, so your vote wasn't sent yet. Please try again in a few seconds.</p></div>
"};
        } else {
            // Without JavaScript the fan gets a page: the Back button returns to the form,
            // with their choice still ticked.
            set beresp.body = {"<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Your vote wasn't sent · fanfare</title><h1>Your vote wasn't sent yet</h1><p class="vote-problem" role="alert">We're very busy right now, so your vote wasn't sent. Please go back, wait a few seconds and press Vote again.</p><p><a href="/">Back to the awards</a></p></html>
"};
        }
        return (deliver);
    }
}

sub vcl_deliver {
    if (resp.http.X-Edge-Shed) {
        // The edge's own 503 closes the connection: a fan waits out Retry-After anyway (longer
        // than timeout_idle keeps a connection), and a client that ignores Retry-After must
        // connect again for each try instead of looping on cheap 503s that crowd out the
        // votes being answered (wrk at 500 connections: about 10,800 503s/s on a kept
        // connection, 5,800 when each closes).
        unset resp.http.X-Edge-Shed;
        set resp.http.Connection = "close";
    }
}
