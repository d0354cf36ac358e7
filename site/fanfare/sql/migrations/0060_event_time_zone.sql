-- Fans read an event's times in the event's own time zone (an IANA name), with the zone named.
ALTER TABLE events ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
