-- Raw tables: validated, normalised rows as delivered, one row per accepted source record,
-- with lineage (batch, file, row). Append-only per batch: latest-wins is resolved in dbt.

create table raw.registration (
    uscc                    text not null,
    uscc_check_failed       boolean not null default false,  -- register anomaly, kept with a flag
    name                    text not null,
    subject_type            text not null,
    registration_number     text,
    organisation_code       text,
    legal_representative    text,
    founded_on              date,
    registering_authority   text,
    address                 text,
    status                  text not null,
    deregistered_on         date,
    updated_at              timestamp not null,
    batch_id                bigint not null references quality.batch_manifest,
    source_file             text not null,
    source_row              integer not null
);
create index registration_key on raw.registration (uscc, updated_at);
create index registration_regno on raw.registration (registration_number);
create index registration_orgcode on raw.registration (organisation_code);

-- Both penalty field sets (current double-publicity standard and the older one) land here.
create table raw.penalty (
    authority_code              text not null,   -- CF_CFJGDM, or resolved from CF_XZJG via the directory
    decision_number             text not null,   -- CF_WSH
    operation                   text not null check (operation in ('I', 'U', 'D')),
    legacy_status               text,            -- CF_ZT of the older set: 0 normal 1 revoked 2 disputed 3 other
    field_set                   text not null check (field_set in ('current', 'legacy')),
    party_name                  text not null,
    party_type                  text,
    party_uscc                  text,
    party_registration_number   text,
    party_organisation_code     text,
    party_tax_number            text,
    party_institution_cert      text,
    party_social_org_cert       text,
    legal_representative        text,
    legal_rep_id_type           text,
    legal_rep_id_hash           text,
    legal_rep_id_masked         text,
    party_id_type               text,
    party_id_hash               text,            -- HMAC of a natural person's ID; clear number only in restricted
    party_id_masked             text,
    offence_type                text,
    facts                       text,
    legal_basis                 text,
    penalty_types               text[] not null default '{}',
    penalty_name                text,            -- legacy CF_CFMC
    content                     text,
    fine_cny                    numeric(18, 2),  -- CF_NR_FK delivered in 10,000 CNY
    confiscation_cny            numeric(18, 2),
    licence_affected            text,
    decided_on                  date not null,
    valid_until                 date,            -- null = long-term (2099-12-31)
    publicity_end_declared      date,            -- CF_GSJZQ as the department sees it
    authority_name              text,
    data_source                 text,
    data_source_code            text,
    local_code                  text,
    source_timestamp            timestamp,
    remarks                     text,
    batch_id                    bigint not null references quality.batch_manifest,
    source_file                 text not null,
    source_row                  integer not null
);
create index penalty_key on raw.penalty (authority_code, decision_number);

-- Judicial lists arrive as daily full snapshots; we store intervals, not nightly copies.
create table raw.judicial_listing (
    case_code               text not null,
    party_key               text not null,   -- USCC, or HMAC of masked ID + name for persons
    list_type               text not null check (list_type in ('dishonest', 'restricted')),
    content_hash            text not null,   -- md5 of the entry's fields; a change opens a new interval
    party_name              text not null,
    card_num                text,            -- USCC for organisations, masked ID for persons (as published)
    party_uscc              text,
    party_type              text not null,
    sex                     text,
    age                     integer,
    legal_representative    text,
    court_name              text,
    area_name               text,
    gist_id                 text,
    gist_unit               text,
    duty                    text,
    performance             text,
    performed_part          text,
    unperformed_part        text,
    disrupt_type            text,
    registered_on           date,
    published_on            date,
    first_seen_on           date not null,   -- first snapshot that carried this version
    last_seen_on            date not null,   -- latest snapshot that carried it
    removed_on              date,            -- first snapshot that no longer carried it
    batch_id                bigint not null references quality.batch_manifest,  -- batch that first carried it
    source_file             text not null,
    source_row              integer not null
);
create index judicial_open on raw.judicial_listing (case_code, party_key, list_type) where removed_on is null;

create table raw.tax_violation (
    authority_code          text not null,
    decision_number         text not null,
    taxpayer_number         text not null,
    taxpayer_uscc           text,            -- when NSRSBH is a valid USCC
    name                    text not null,
    address                 text,
    legal_rep_name          text,
    legal_rep_sex           text,
    legal_rep_id_masked     text,
    case_nature             text,
    facts                   text,
    handling                text,
    authority_name          text,
    published_on            date not null,
    removed_on              date,
    status                  text not null,
    batch_id                bigint not null references quality.batch_manifest,
    source_file             text not null,
    source_row              integer not null
);
create index tax_violation_key on raw.tax_violation (authority_code, decision_number);

create table raw.tax_rating (
    taxpayer_number         text not null,
    taxpayer_uscc           text,
    name                    text not null,
    rating_year             integer not null,
    rating_level            text not null check (rating_level in ('A', 'B', 'M', 'C', 'D')),
    rated_on                date,
    batch_id                bigint not null references quality.batch_manifest,
    source_file             text not null,
    source_row              integer not null
);
create index tax_rating_key on raw.tax_rating (taxpayer_number, rating_year);

create table raw.social_insurance_arrears (
    unit_name               text not null,
    uscc                    text not null,
    insurance_type          text not null,
    arrears_cny             numeric(18, 2) not null,
    arrears_from            date,            -- first day of 欠缴起始年月
    arrears_to              date,            -- first day of 欠缴截止年月
    document_type           text not null,
    document_number         text not null,
    department              text,
    department_code         text not null,
    decided_on              date not null,
    status                  text not null,
    updated_on              date not null,
    batch_id                bigint not null references quality.batch_manifest,
    source_file             text not null,
    source_row              integer not null
);
create index social_insurance_key on raw.social_insurance_arrears (department_code, document_number, insurance_type);

-- Clear personal ID numbers, only here (Art. 8). Everything else joins on id_hash.
create table restricted.person_identity (
    id_hash         text primary key,
    id_number       text not null,
    id_type         text,
    id_masked       text not null,
    first_batch_id  bigint not null references quality.batch_manifest
);
