-- The register entries rewritten within `register_snapshot_days`: what the registration snapshot
-- compares. The snapshot's timestamp strategy ignores entries whose update time it has already
-- seen and hard deletes are ignored, so leaving the unchanged register out changes nothing but
-- the cost (every registered subject was compared every night). The snapshot runs in every
-- build, so the window only has to cover a pipeline that stopped for a while.
select *
from {{ ref('int_registration__latest') }}
where built_at > now() - interval '{{ var("register_snapshot_days") }} days'
