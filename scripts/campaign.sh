#!/usr/bin/env bash
# A local campaign: SHARDS soak shards in parallel, each with its own seed
# range and its own JSONL file, then one merge whose exit code is the verdict.
# The same commands as .github/workflows/campaign.yml.
#   scripts/campaign.sh SHARDS MINUTES [OUTDIR] [SLOT_SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
shards=${1:?usage: scripts/campaign.sh SHARDS MINUTES [OUTDIR] [SLOT_SECONDS]}
minutes=${2:?usage: scripts/campaign.sh SHARDS MINUTES [OUTDIR] [SLOT_SECONDS]}
outdir=${3:-campaign}
slot=${4:-10}
npm run build --silent || exit 3
mkdir -p "$outdir"
pids=()
for k in $(seq 1 "$shards"); do
  # Shard K's seeds start at K * 1,000,000: the ranges do not overlap.
  node dist/src/cli.js soak --minutes "$minutes" --slot "$slot" --seed $((k * 1000000)) \
    --out "$outdir/shard-$k.jsonl" >"$outdir/shard-$k.txt" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
node dist/src/cli.js merge "$outdir"/shard-*.jsonl
