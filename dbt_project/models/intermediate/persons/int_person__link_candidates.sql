-- Candidate links between a person the published lists show masked (courts, the commitment
-- system: keyed by HMAC of masked ID + name) and a person known by a clear ID (penalty
-- decisions: keyed by HMAC of the ID, the clear number only in restricted). Compared on what
-- both sides may show: the masked ID's visible characters and the name; the court and the ID's
-- city of issue are evidence. No clear ID is read: the penalty side's masked form is the one the
-- loader derived from the clear number.
--
-- Confidence: a masked person with exactly one clear-ID candidate is 0.90 (+0.05 when the
-- court sits in the ID's city of issue) and links by itself; several candidates share 0.60
-- and wait for a steward. A steward's latest decision on a link overrides either way.
with

listings as (

    select * from {{ ref('stg_judicial__listings') }}

),

commitments as (

    select * from {{ ref('stg_commitment__commitments') }}

),

penalties as (

    select * from {{ ref('stg_penalty__decisions') }}

),

decisions as (

    select * from {{ ref('stg_governance__person_link_decisions') }}

),

divisions as (

    select * from {{ ref('admin_divisions') }}

),

masked_sightings as (

    select party_key as person_key, party_card_masked_or_uscc as masked_id, party_name,
           court_name as seen_at
    from listings
    where party_type = '自然人'

    union all

    select party_key, party_card_masked_or_uscc, party_name, acceptor_name
    from commitments
    where party_type = '自然人'

),

masked_persons as (

    select
        person_key,
        min(masked_id) as masked_id,
        min(party_name) as person_name,
        {{ masked_id_key('min(masked_id)') }} as id_key,
        {{ comparable_name('min(party_name)') }} as name_key,
        array_agg(distinct seen_at order by seen_at) filter (where seen_at is not null) as seen_at

    from masked_sightings
    group by person_key

),

clear_persons as (

    select
        party_id_hash as id_hash,
        {{ masked_id_key('party_id_masked') }} as id_key,
        {{ comparable_name('party_name') }} as name_key,
        count(*) as penalty_decisions

    from penalties
    where party_id_hash is not null and party_id_masked is not null
    group by 1, 2, 3

),

candidates as (

    select
        masked_persons.person_key,
        clear_persons.id_hash,
        masked_persons.masked_id,
        masked_persons.person_name,
        masked_persons.seen_at,
        clear_persons.penalty_decisions,
        count(*) over (partition by masked_persons.person_key) as candidate_count,
        id_city.division_name as id_city_name

    from masked_persons
    inner join clear_persons
        on clear_persons.id_key = masked_persons.id_key
        and clear_persons.name_key = masked_persons.name_key
    left join divisions as id_city
        on id_city.division_code = substr(masked_persons.masked_id, 1, 4) || '00'

),

latest_decisions as (

    select distinct on (link_id) *
    from decisions
    order by link_id, decided_at desc, decision_id desc

),

scored as (

    select
        md5(candidates.person_key || '|' || candidates.id_hash) as link_id,
        candidates.*,
        coalesce(
            exists (
                select from unnest(candidates.seen_at) as seen(place)
                where candidates.id_city_name is not null
                  and strpos(seen.place, rtrim(candidates.id_city_name, '市')) > 0
            ),
            false
        ) as seen_in_id_city

    from candidates

),

final as (

    select
        scored.link_id,
        scored.person_key,
        scored.id_hash,
        scored.masked_id,
        scored.person_name,
        scored.candidate_count,
        (case when scored.candidate_count = 1 then 0.90 else round(0.60 / scored.candidate_count, 2) end
            + case when scored.seen_in_id_city then 0.05 else 0 end)::numeric(3, 2) as confidence,
        jsonb_build_object(
            'masked_id', scored.masked_id,
            'name', 'same name after normalisation',
            'masked_digits', 'first 4 and last 4 characters equal',
            'clear_id_candidates', scored.candidate_count,
            'id_city_of_issue', scored.id_city_name,
            'seen_at', to_jsonb(scored.seen_at),
            'seen_in_id_city', scored.seen_in_id_city,
            'penalty_decisions_of_candidate', scored.penalty_decisions
        ) as evidence,
        case
            when latest_decisions.decision is not null then latest_decisions.decision
            when scored.candidate_count = 1 then 'auto'
            else 'pending'
        end as link_status,
        latest_decisions.decision_reason,
        latest_decisions.decided_by,
        latest_decisions.decided_at

    from scored
    left join latest_decisions on latest_decisions.link_id = scored.link_id

)

select
    *,
    -- a link applies when it is confident or accepted and the only one of its masked person that is
    -- (two accepted links for one masked person apply neither: stewards must reject one)
    link_status in ('auto', 'accepted')
        and count(*) filter (where link_status in ('auto', 'accepted')) over (partition by person_key) = 1
        as is_applied,
    {{ dbt.current_timestamp() }} as built_at
from final
