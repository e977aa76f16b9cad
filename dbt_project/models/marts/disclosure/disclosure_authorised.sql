-- Disclosure to authorised query (adds authorised-query items of organisations); scope in macros/audience_scope.sql.
{{ audience_scope(3) }}
