-- Disclosure to government sharing (every record in force of organisations); scope in macros/audience_scope.sql.
{{ audience_scope(4) }}
