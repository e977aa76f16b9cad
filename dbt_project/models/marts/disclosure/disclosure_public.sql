-- Disclosure to everybody (actively public, published today); scope in macros/audience_scope.sql.
{{ audience_scope(1) }}
