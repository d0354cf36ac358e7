vcl 4.1;
// The edge in front of fanfare. The app decides what is cacheable (Cache-Control, xkey);
// this file only wires the concerns together. Each concern lives in its own small file with a
// varnishtest .vtc beside it. Order matters: Varnish runs same-named subroutines in include
// order, and only routing.vcl ends vcl_recv, so every concern before it gets its say.

import std;
import xkey;

// backends.vcl is generated per run (scripts/edge.sh, the test fixtures, the .vtc files) with
// that run's ports and found through vcl_path, because VCL cannot read the environment.
include "backends.vcl";

// hosts.vcl is generated too (scripts/edge.sh, from FANFARE_SITE_HOSTS); cdn/hosts.vcl is the
// default the .vtc files use.
include "hosts.vcl";      // the site's host names; any other Host maps to the first
include "normalize.vcl";  // header hygiene, anti-poisoning, URL and Accept-Encoding, gzip
include "purge.vcl";      // PURGE by surrogate key, from the ACL only
include "grace.vcl";      // stale-while-revalidate when healthy, stale-if-error when not
include "fans.vcl";       // /account: the fan cookie both ways, passed (issue 17)
include "cookies.vcl";    // no cookies in or out on cacheable paths
include "routing.vcl";    // web or ingest; pass or cache; /metrics only for the ACL
include "debug.vcl";      // X-Cache, and hide internal headers
