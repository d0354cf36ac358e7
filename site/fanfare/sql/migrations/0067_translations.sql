-- Editors' translations of content texts, one row per event, category or nominee and language
-- (issue 18). The default language's text stays on the content row itself; a translation holds
-- only the fields an editor translated, and fans see the row's own text for any field that is
-- missing or empty there. Like a content row, a translation is edited as a draft: `draft` is
-- the pending version (fans see nothing of it), `texts` the published one, and publishing
-- copies the one onto the other in one transaction (content/translations.py). A draft with
-- publish_at is published by the scheduler at that moment.
CREATE TABLE translations (
    kind          text NOT NULL CHECK (kind IN ('event', 'category', 'nominee')),
    target_id     bigint NOT NULL,
    -- A Babel locale of http/i18n.py LANGUAGES ('ko', 'pt_BR'), never the default language.
    language      text NOT NULL CHECK (language ~ '^[a-z]{2,3}(_[A-Z]{2})?$' AND language <> 'en'),
    texts         jsonb CHECK (jsonb_typeof(texts) = 'object'),  -- published; NULL: none
    draft         jsonb CHECK (jsonb_typeof(draft) = 'object'),  -- pending; NULL: none
    publish_at    timestamptz,
    published_at  timestamptz,
    updated_by    bigint REFERENCES editors ON DELETE SET NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, target_id, language),
    CHECK (publish_at IS NULL OR draft IS NOT NULL)
);
-- Fan pages read one language's published texts for a set of rows.
CREATE INDEX translations_language ON translations (language, kind, target_id)
    WHERE texts IS NOT NULL;
CREATE INDEX translations_due ON translations (publish_at) WHERE publish_at IS NOT NULL;
