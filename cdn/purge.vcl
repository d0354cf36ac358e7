vcl 4.1;
// PURGE by surrogate key: the app (fanfare.edge) and the scheduler drop exactly the objects
// tagged with a key (the xkey response header). Only from the purgers ACL.

import xkey;

acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        // client.ip, not remote.ip: behind a PROXY-protocol TLS terminator remote.ip is the
        // terminator itself, which would let every client purge.
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (req.http.xkey-purge) {
            set req.http.X-Purged = xkey.purge(req.http.xkey-purge);
        } elsif (req.http.xkey-softpurge) {
            // Soft: objects turn stale but stay in grace (see grace.vcl).
            set req.http.X-Purged = xkey.softpurge(req.http.xkey-softpurge);
        } else {
            return (synth(400, "Send an xkey-purge or xkey-softpurge header"));
        }
        return (synth(200, "Purged " + req.http.X-Purged));
    }
}

sub vcl_synth {
    if (req.method == "PURGE") {
        if (req.http.X-Purged) {
            set resp.http.X-Purged = req.http.X-Purged;
        }
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.body = resp.reason + {"
"};
        return (deliver);
    }
}
