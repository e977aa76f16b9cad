{#- A record's status on a day, from columns every record carries (see fct_credit_record.yml for
    the vocabulary). First match wins: an ended record stays ended whatever else happened; a
    dispute or correction only qualifies a record that is still in force. -#}
{% macro credit_record_status(as_of) -%}
    case
        when source_status = 'revoked' then 'revoked'
        when objection_outcome = 'withdrawn' then 'withdrawn'
        when source_status = 'removed' and ended_on <= {{ as_of }} then 'removed'
        when repaired_on <= {{ as_of }} then 'repaired'
        when publicity_end < {{ as_of }} then 'expired'
        when has_pending_objection or source_status = 'disputed' then 'disputed'
        when objection_outcome = 'corrected' or source_status = 'corrected' then 'corrected'
        else 'active'
    end
{%- endmacro %}

{#- The day the status above took effect. -#}
{% macro credit_record_status_since(status, as_of) -%}
    case {{ status }}
        when 'revoked' then coalesce(ended_on, source_status_since)
        when 'withdrawn' then objection_outcome_on
        when 'removed' then ended_on
        when 'repaired' then repaired_on
        when 'expired' then publicity_end + 1
        when 'disputed' then coalesce(pending_since, source_status_since)
        when 'corrected' then
            case when objection_outcome = 'corrected' then objection_outcome_on else source_status_since end
        else coalesce(publicity_start, decision_date)
    end
{%- endmacro %}
