vcl 4.1;
// Tell the client what the edge did (X-Cache, Age), and nothing it does not need to know.

sub vcl_deliver {
    if (obj.uncacheable) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0 && obj.ttl <= 0s) {
        set resp.http.X-Cache = "HIT-STALE";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    unset resp.http.xkey;
    unset resp.http.X-Fanfare-Grace;
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}
