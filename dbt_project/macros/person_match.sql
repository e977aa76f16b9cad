{#- What a masked resident ID still shows, as a comparable key: the first four and the last four
    characters of an 18-character number (division of issue, last three of the sequence and the
    check character). Every mask seen so far keeps at least these (`3201**********1239`,
    `320102********1239`), so a court that shows more digits tomorrow still yields the same key;
    anything else (another length, fewer digits shown) yields null and matches nothing. -#}
{% macro masked_id_key(expr) -%}
    case
        when upper({{ expr }}) ~ '^[0-9]{4}[0-9*]{10}[0-9]{3}[0-9X]$' and {{ expr }} like '%*%'
            then substr({{ expr }}, 1, 4) || '|' || upper(substr({{ expr }}, 15, 4))
    end
{%- endmacro %}


{#- A name as compared across feeds (persons, organisations): NFKC (full-width letters and
    brackets), no white space or interpuncts (少数民族 names are written with · or • or a dot). -#}
{% macro comparable_name(expr) -%}
    nullif(regexp_replace(normalize({{ expr }}, NFKC), '[[:space:]·•.．]', '', 'g'), '')
{%- endmacro %}
