vcl 4.1;
// Request hygiene: nothing a client sends may change what gets cached for everybody, and
// equivalent requests must share one cache object.

import std;

sub vcl_recv {
    if (req.restarts == 0) {
        // Internal flags (grace.vcl) are only ever set by this VCL, never by a client.
        unset req.http.X-Fanfare-Fresh;
        unset req.http.X-Fanfare-Stale-Ok;
    }

    // Cache poisoning: frameworks build links and redirects from these headers, so a client
    // could make the origin render a page for another host or scheme and have us cache it.
    unset req.http.X-Forwarded-Host;
    unset req.http.X-Forwarded-Server;
    unset req.http.X-Forwarded-Port;
    unset req.http.X-Forwarded-Proto;
    unset req.http.X-Forwarded-Scheme;
    unset req.http.X-Forwarded-Prefix;
    unset req.http.X-Forwarded-Ssl;
    unset req.http.Front-End-Https;
    unset req.http.X-Url-Scheme;
    unset req.http.X-Host;
    unset req.http.X-Original-Host;
    unset req.http.X-Original-URL;
    unset req.http.X-Rewrite-URL;
    unset req.http.X-HTTP-Method-Override;
    unset req.http.X-HTTP-Method;
    unset req.http.X-Method-Override;
    unset req.http.Forwarded;
    // httpoxy: a Proxy header would become HTTP_PROXY in a CGI-style environment.
    unset req.http.Proxy;

    // One object per site, not per spelling of its host name: the port goes, and a Host that
    // is not one of the site's names becomes the canonical one (hosts.vcl), so a client cannot
    // buy origin work with made-up Hosts.
    if (req.http.Host) {
        set req.http.Host = std.tolower(regsub(req.http.Host, ":[0-9]+$", ""));
    }
    call fanfare_site_host;

    // Fragments never reach a server. No fan route reads a query parameter, so the query string
    // is dropped from them: the cache key is the canonical URL and `?r=<random>` is a HIT. Only
    // the editor area (passed, never cached) reads parameters (?next=, ?done=).
    set req.url = regsub(req.url, "#.*$", "");
    // The editor area, a fan's own account pages and the challenge's time lock
    // (/votes/challenge?token=…), all passed and never cached, do read theirs.
    if (req.url !~ "^/(admin|account)(/|\?|$)"
        && req.url !~ "^(/[a-z]{2}(-[a-z]{2})?)?/votes/challenge\?") {
        set req.url = regsub(req.url, "\?.*$", "");
    }

    // The two tiny forms (a vote, a sign-in) are read whole here before they are passed on, so
    // a client that sends its body slowly ties up an edge thread, never an origin connection,
    // and a body over the app's SMALL_FORM_MAX_CONTENT_LENGTH (16 KB) is refused at the edge.
    if (req.method == "POST" && req.url ~ "^/(votes|admin/login)$") {
        if (std.integer(req.http.Content-Length, 0) > 16384) {
            return (synth(413, "Request Entity Too Large"));
        }
        // A chunked body over the cap cannot be answered: Varnish closes the connection.
        std.cache_req_body(16KB);
    }

    // Only gzip is produced (below), so every client falls into one of two variants.
    if (req.http.Accept-Encoding ~ "(?i)\bgzip\b") {
        set req.http.Accept-Encoding = "gzip";
    } else {
        unset req.http.Accept-Encoding;
    }
}

sub vcl_synth {
    if (resp.status == 413) {
        set resp.http.Content-Type = "text/html; charset=utf-8";
        set resp.http.Cache-Control = "private, no-store";
        set resp.body = {"<p class="notice error" role="alert">That was far bigger than this form can be, so it was not sent. Please try again from the page.</p>
"};
        return (deliver);
    }
}

sub vcl_backend_response {
    // Compress text once at the edge; Varnish gunzips for the rare client that cannot.
    if (!beresp.http.Content-Encoding
        && beresp.http.Content-Type ~ "^(text/|application/(json|javascript|xml|manifest\+json)|image/svg\+xml)") {
        set beresp.do_gzip = true;
    }
}
