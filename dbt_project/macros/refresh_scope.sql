{#- The marts above the fact are incremental by scope: a night rebuilds the rows of the subjects
    (dim_credit_subject, subject_credit_profile) or records (public_disclosure,
    joint_discipline_list) that its changes reach, not the whole history.

    A mart's pre-hook (`refresh_scope_pre_hook`) writes the night's scope into a temporary table
    and deletes the mart's rows in it; the model then inserts the scope's rows again
    (`in_refresh_scope`), all in one transaction. The scope is everything, i.e. a full rebuild,
    when the mart is new, when its last build is older than the departure log
    (`departure_log_days`), when every fact row was rewritten since (a catalogue or rule change,
    an earlier as-of date) or when a reference seed of the mart changed.

    Watermarks are the mart's own last build (`built_since`), so a candidate two nights behind
    after a publish swap catches up with both nights. -#}

{% macro refresh_scope_table() -%}
    {{ this.identifier }}__refresh_scope
{%- endmacro %}


{#- SQL condition: the mart must be rebuilt in full tonight -#}
{% macro full_rebuild_needed(reference_seeds=[]) -%}
    (
        (select max(built_at) from {{ this }}) is null
        or (select max(built_at) from {{ this }}) < now() - interval '{{ var("departure_log_days") }} days'
        or (select min(built_at) from {{ ref('fct_credit_record') }}) > {{ built_since() }}
        {%- if reference_seeds %}
        or (select max(reference_fingerprint) from {{ this }}) is distinct from {{ seed_fingerprint(reference_seeds) }}
        {%- endif %}
    )
{%- endmacro %}


{#- Subjects whose rows may differ tonight: a fact row of theirs was written (or left them for
    another subject, or left the fact), or their register entry or dimension row changed. -#}
{% macro changed_subjects() -%}
    select subject_key from {{ ref('fct_credit_record') }}
    where built_at > {{ built_since() }} and subject_key is not null
    union
    select previous_subject_key from {{ ref('fct_credit_record') }}
    where built_at > {{ built_since() }} and previous_subject_key is not null
    union
    select subject_key from intermediate.credit_record_departure
    where departed_at > {{ built_since() }} and subject_key is not null
    union
    select uscc from {{ ref('int_registration__latest') }}
    where built_at > {{ built_since() }}
{%- endmacro %}


{% macro all_subjects() -%}
    select uscc from {{ ref('int_registration__latest') }}
    union
    select subject_key from {{ ref('fct_credit_record') }} where subject_key is not null
{%- endmacro %}


{#- Records whose mart rows may differ tonight: written in the fact, or their subject's
    dimension row (name, region) changed. -#}
{% macro changed_records() -%}
    select record_id from {{ ref('fct_credit_record') }}
    where built_at > {{ built_since() }}
    union
    select fct.record_id from {{ ref('fct_credit_record') }} as fct
    inner join {{ ref('dim_credit_subject') }} as dim on dim.subject_key = fct.subject_key
    where dim.built_at > {{ built_since() }}
{%- endmacro %}


{% macro all_records() -%}
    select record_id from {{ ref('fct_credit_record') }}
{%- endmacro %}


{#- The pre-hook: the scope (key `subject_key` or `record_id`), then the delete. Renders nothing
    on a first build or --full-refresh, where the model simply selects everything. -#}
{% macro refresh_scope_pre_hook(key, reference_seeds=[]) -%}
    {%- if is_incremental() -%}
    {#- decided once, before anything is deleted (deleting changes the mart's own watermark) -#}
    create temporary table {{ refresh_scope_table() }}__full on commit drop as
    select {{ full_rebuild_needed(reference_seeds) }} as full_rebuild;
    create temporary table {{ refresh_scope_table() }} on commit drop as
    select scope.{{ key }}
    from {{ refresh_scope_table() }}__full as flags
    cross join lateral (
        {% if key == 'subject_key' -%}
        select keys.uscc as {{ key }} from ({{ all_subjects() }}) as keys where flags.full_rebuild
        union all
        select keys.subject_key from ({{ changed_subjects() }}) as keys where not flags.full_rebuild
        {%- else -%}
        select keys.record_id from ({{ all_records() }}) as keys where flags.full_rebuild
        union all
        select keys.record_id from ({{ changed_records() }}) as keys where not flags.full_rebuild
        {%- endif %}
    ) as scope;
    create unique index on {{ refresh_scope_table() }} ({{ key }});
    analyze {{ refresh_scope_table() }};
    {#- a full rebuild empties the mart: rows of subjects that left everything go too -#}
    delete from {{ this }} where (select full_rebuild from {{ refresh_scope_table() }}__full);
    delete from {{ this }} where {{ key }} in (select {{ key }} from {{ refresh_scope_table() }})
    {%- endif -%}
{%- endmacro %}


{#- Model side: restrict a relation's rows to tonight's scope (everything when not incremental) -#}
{% macro in_refresh_scope(column, key) -%}
    {%- if is_incremental() -%}
    {{ column }} in (select {{ key }} from {{ refresh_scope_table() }})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
