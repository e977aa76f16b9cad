-- Disclosure to applicants (adds on-application items of organisations); scope in macros/audience_scope.sql.
{{ audience_scope(2) }}
