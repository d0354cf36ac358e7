vcl 4.1;
// The site's host names. scripts/edge.sh writes this file into the edge's work directory from
// FANFARE_SITE_HOSTS (first found through vcl_path); this copy is the default, for the .vtc files
// and for the settings' default ("127.0.0.1 localhost"). normalize.vcl calls it once the Host is
// lowercased and its port dropped: any other Host is mapped to the canonical (first) name.

sub fanfare_site_host {
    if (!req.http.Host || (req.http.Host != "127.0.0.1" && req.http.Host != "localhost")) {
        set req.http.Host = "127.0.0.1";
    }
}
