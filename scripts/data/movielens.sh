#!/usr/bin/env bash
# Prepares MovieLens "latest-small" (100,004 ratings, 671 users, 9,066 movies) from Debian's
# r-cran-dslabs (see ../shared/DATA.md): installs r-base-core and r-cran-dslabs if missing (as root),
# exports the `movielens` data frame with Rscript and prints the path of
#   $VITRINE_CACHE/data/movielens-<dslabs version>/ratings.csv   user,item,rating,timestamp
# next to movies.csv (movieId,title,year,genres). Cached: a second run only prints the path.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

pkgs=(r-base-core r-cran-dslabs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages (${missing[*]}): run this script as root once"
    exit 1
  fi
  log "installing ${missing[*]} (for MovieLens)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

dslabs=/usr/lib/R/site-library/dslabs
version="$(sed -n 's/^Version: *//p' "$dslabs/DESCRIPTION")"
[[ -n "$version" ]] || { log "cannot read the dslabs version from $dslabs/DESCRIPTION"; exit 1; }
dir="$VITRINE_CACHE/data/movielens-$version"
if [[ -f "$dir/ratings.csv" && -f "$dir/movies.csv" ]]; then
  echo "$dir/ratings.csv"
  exit 0
fi

log "exporting MovieLens from dslabs $version to $dir"
mkdir -p "$VITRINE_CACHE/data"
tmp="$(mktemp -d "$VITRINE_CACHE/data/.movielens.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
Rscript --vanilla - "$dslabs/data/Rdata" "$tmp" >&2 <<'R'
args <- commandArgs(trailingOnly = TRUE)
e <- new.env()
invisible(lazyLoad(args[1], envir = e))
m <- e$movielens
stopifnot(is.data.frame(m), all(c("userId", "movieId", "rating", "timestamp", "title", "year", "genres") %in% names(m)))
ratings <- data.frame(user = m$userId, item = m$movieId, rating = m$rating, timestamp = m$timestamp)
ratings <- ratings[order(ratings$user, ratings$timestamp, ratings$item), ]
write.csv(ratings, file.path(args[2], "ratings.csv"), row.names = FALSE, quote = FALSE)
movies <- unique(data.frame(movieId = m$movieId, title = m$title, year = m$year, genres = as.character(m$genres)))
movies <- movies[order(movies$movieId), ]
stopifnot(!anyDuplicated(movies$movieId))
write.csv(movies, file.path(args[2], "movies.csv"), row.names = FALSE, na = "")
cat(sprintf("movielens: %d ratings, %d users, %d movies\n", nrow(ratings), length(unique(ratings$user)), nrow(movies)))
R
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir/ratings.csv"
