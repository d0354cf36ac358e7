vcl 4.1;
// A cacheable response never sets a cookie and never depends on one. The voter cookie is
// scoped to /votes and the editor cookie to /admin: those paths are passed and left alone.

sub vcl_recv {
    if (req.url !~ "^/(votes|admin)(/|\?|$)") {
        // A cookie must neither split the cache nor reach the origin from a shared page.
        unset req.http.Cookie;
    }
}

sub vcl_backend_response {
    if (bereq.url !~ "^/(votes|admin)(/|\?|$)" && beresp.http.Set-Cookie) {
        // Handing one visitor's cookie to the next would be a session leak: drop it, and keep
        // this answer out of the cache (hit-for-miss, so later cacheable answers still cache).
        unset beresp.http.Set-Cookie;
        set beresp.ttl = 10s;
        set beresp.uncacheable = true;
        return (deliver);
    }
}
