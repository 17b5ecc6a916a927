# ACL policy for vmgate's workload identity: write its verdict as dynamic node metadata.
# Caveat: node write is cluster-wide (it also allows draining, eligibility changes and purging of ANY node);
# Nomad has nothing narrower for /v1/client/metadata. Without --nomad-meta, attach no policy and scrape /metrics.
# Attach it to the job's tasks that publish (both vmgate tasks):
#   nomad acl policy apply -namespace default -job orchestrator -group orchestrator -task vmgate vmgate-meta nomad/vmgate-policy.hcl
#   nomad acl policy apply -namespace default -job orchestrator -group orchestrator -task vmgate-preflight vmgate-meta-preflight nomad/vmgate-policy.hcl

node {
  policy = "write"
}
