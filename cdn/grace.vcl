vcl 4.1;
// Staleness by backend health, driven by the app's Cache-Control:
// - healthy origin: an expired object is served for at most stale-while-revalidate seconds
//   while one background fetch refreshes it; after that a request waits for a fresh copy;
// - origin down (sick probe, connection error or 5xx): the object is served for up to
//   stale-if-error seconds;
// - a background fetch that fails is abandoned, so it never replaces a good object.
// - a soft-purged object (xkey-softpurge: the vote writer after each batch, publishes) is just
//   an expired one: while the origin is healthy it is served only while its refetch is in
//   flight (stale-while-revalidate); while the origin is sick, for the whole stale-if-error. So
//   fresh counts cost nothing, and a purge never takes a page down.
// Varnish sets beresp.grace from stale-while-revalidate itself; the object keeps that value in
// X-Fanfare-Grace and its grace becomes stale-if-error. vcl_hit cannot return (miss) in 7.1, so
// a request that must not see a stale copy restarts with req.grace = 0s (X-Fanfare-Fresh).

import std;

sub vcl_recv {
    if (req.http.X-Fanfare-Stale-Ok) {
        // req.grace survives a restart: lift the limit again, so the object's own grace
        // (stale-if-error) decides.
        set req.grace = 3650d;
    } elsif (req.http.X-Fanfare-Fresh) {
        set req.grace = 0s;
    }
}

sub vcl_hit {
    if (obj.ttl <= 0s
        && !req.http.X-Fanfare-Fresh
        && !req.http.X-Fanfare-Stale-Ok
        && std.healthy(req.backend_hint)
        && obj.ttl + std.duration(obj.http.X-Fanfare-Grace, 0s) <= 0s) {
        // Past stale-while-revalidate with a healthy origin: fetch (coalesced) and wait.
        set req.http.X-Fanfare-Fresh = "1";
        return (restart);
    }
}

sub vcl_backend_response {
    if (beresp.status >= 500 && (bereq.is_bgfetch || bereq.http.X-Fanfare-Fresh)) {
        // Keep the stale object; a client waiting on this fetch restarts onto it (vcl_synth).
        return (abandon);
    }
    set beresp.http.X-Fanfare-Grace = beresp.grace + "s";
    if (beresp.http.Cache-Control ~ "stale-if-error=[0-9]+") {
        set beresp.http.X-Fanfare-If-Error =
            regsub(beresp.http.Cache-Control, "^.*stale-if-error=([0-9]+).*$", "\1s");
        if (std.duration(beresp.http.X-Fanfare-If-Error, 0s) > beresp.grace) {
            set beresp.grace = std.duration(beresp.http.X-Fanfare-If-Error, 0s);
        }
        unset beresp.http.X-Fanfare-If-Error;
    }
    if (beresp.status >= 500) {
        // Never cache an error, and do not make the next minute of requests pass either.
        set beresp.ttl = 1s;
        set beresp.uncacheable = true;
        return (deliver);
    }
}

sub vcl_backend_error {
    if (bereq.is_bgfetch || bereq.http.X-Fanfare-Fresh) {
        return (abandon);
    }
}

sub vcl_synth {
    if (resp.status == 503 && req.http.X-Fanfare-Fresh && !req.http.X-Fanfare-Stale-Ok) {
        // The fresh fetch failed before the probe noticed: serve the stale copy instead.
        set req.http.X-Fanfare-Stale-Ok = "1";
        return (restart);
    }
}
