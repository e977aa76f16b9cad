{#- The as-of day as a SQL date literal: var('as_of_date') when set (unit tests pin it), else the
    environment's CREDIT_DW_AS_OF_DATE (what the pipeline and the build DAG set: the night's
    logical date), else the invocation's start date in Asia/Shanghai; never now() inside SQL, so
    one build sees one date in every model.

    Why an environment variable rather than --vars for the nightly date: dbt re-parses the whole
    project whenever --vars differ from the last parse (about 2 s here, on every invocation of a
    night), while a changed environment variable re-parses the files that read it at parse time;
    and this macro reads it only when SQL is compiled (``execute``), so a new night re-parses
    nothing. -#}
{% macro as_of_date() -%}
    {%- if not execute -%}
        {#- parsing: only ref, source and config matter, the date is compiled at run time -#}
        {{- return("date '1970-01-01'") -}}
    {%- endif -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = env_var('CREDIT_DW_AS_OF_DATE', '') -%}
    {%- endif -%}
    {%- if (value | string | trim) == '' -%}
        {%- set value = run_started_at.astimezone(modules.pytz.timezone('Asia/Shanghai')).strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("as_of_date (var or CREDIT_DW_AS_OF_DATE) must be YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}
