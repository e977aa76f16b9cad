{#- Records that leave the fact (past retention, or no longer in the catalogue) are logged with
    the subject they belonged to, so the subject marts (incremental on subject_key) refresh that
    subject although no fact row of it was written. The log is global (schema intermediate, not
    swapped): a candidate two nights behind reads the departures of both nights. Entries older
    than the subject marts' full-rebuild horizon (macros/affected_keys.sql) are pruned. -#}
{% macro record_departures(reason, delete_returning) -%}
    create table if not exists intermediate.credit_record_departure (
        record_id text not null,
        subject_key text,
        reason text not null,
        departed_at timestamptz not null default now()
    );
    create index if not exists credit_record_departure_at on intermediate.credit_record_departure (departed_at);
    delete from intermediate.credit_record_departure where departed_at < now() - interval '{{ var("departure_log_days") }} days';
    with gone as ({{ delete_returning }})
    insert into intermediate.credit_record_departure (record_id, subject_key, reason)
    select record_id, subject_key, '{{ reason }}' from gone
{%- endmacro %}
