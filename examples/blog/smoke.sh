#!/usr/bin/env bash
# A smoke run of the blog through its web page's server (which passes /api
# calls on to posts, comments and query by Service name): one post, an
# approved comment and a rejected "orange" comment, then waits until query
# shows both with their moderation status. Exits 1 with what it saw if not.
#
#   BLOG_URL=http://127.0.0.1:30080 examples/blog/smoke.sh
set -euo pipefail
url=${BLOG_URL:-http://127.0.0.1:30080}

post() { curl -fsS --max-time 10 -H 'Content-Type: application/json' -d "$2" "$url$1"; }

title="smoke $(date +%H:%M:%S)"
id=$(post /api/posts "{\"title\":\"$title\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
echo "created post $id \"$title\""
post "/api/comments/$id" '{"content":"what a nice post"}' >/dev/null
post "/api/comments/$id" '{"content":"I prefer orange"}' >/dev/null
echo "added two comments; waiting for moderation to reach query"
for _ in $(seq 1 50); do
	seen=$(curl -fsS --max-time 5 "$url/api/query" || true)
	if printf '%s' "$seen" | python3 -c '
import json, sys
post = json.load(sys.stdin).get(sys.argv[1]) or {}
st = {c["content"]: c["status"] for c in post.get("comments", [])}
ok = st.get("what a nice post") == "approved" and st.get("I prefer orange") == "rejected"
if ok:
    print("query shows: post %r with %s" % (post["title"], ", ".join("%r %s" % kv for kv in st.items())))
sys.exit(0 if ok else 1)' "$id"; then
		exit 0
	fi
	sleep 0.2
done
echo "error: query did not show the moderated comments of post $id; it shows: $seen" >&2
echo "look at: minictl logs deploy/moderation-depl; minictl logs deploy/query-depl" >&2
exit 1
