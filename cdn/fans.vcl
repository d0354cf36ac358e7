vcl 4.1;
// Fan accounts (issue 17). Everything that reads the fan cookie lives under /account: the
// account page, sign-in links, the prediction POST and the private own-rank fragment. Those are
// passed to web with their cookies both ways; every other path keeps cookies.vcl's rule (no
// cookie in or out), so the leaderboard, predictions and share-card pages stay cacheable.
// Included before cookies.vcl and routing.vcl: returning here skips their cookie stripping.

sub vcl_recv {
    if (req.url ~ "^/account(/|\?|$)") {
        set req.backend_hint = web;
        return (pass);
    }
}

sub vcl_backend_response {
    if (bereq.url ~ "^/account(/|\?|$)") {
        // Private by the app's Cache-Control anyway; deliver before cookies.vcl drops Set-Cookie.
        set beresp.uncacheable = true;
        return (deliver);
    }
}
