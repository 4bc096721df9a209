#!/usr/bin/env bash
# Exports the Amazon Fine Food reviews (objects training_data / testing_data of Debian's
# r-cran-modeldata: 4,000 + 1,000 reviews, label great vs other) and the Bing Liu opinion lexicon
# (object sentiments of r-cran-tidytext) as CSV into the cache once, and prints the folder:
# train.csv and test.csv (text,label), bing.csv (word,sentiment). See ../shared/DATA.md.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
v1="$(dpkg-query -W -f='${Version}' r-cran-modeldata 2>/dev/null || echo none)"
v2="$(dpkg-query -W -f='${Version}' r-cran-tidytext 2>/dev/null || echo none)"
dir="$VITRINE_CACHE/data/fine-foods-${v1//[^A-Za-z0-9.]/_}-${v2//[^A-Za-z0-9.]/_}"
if [[ ! -f "$dir/.complete" ]]; then
  [[ -d /usr/lib/R/site-library/modeldata && -d /usr/lib/R/site-library/tidytext ]] || {
    log "r-cran-modeldata / r-cran-tidytext missing: run scripts/bootstrap.sh as root"; exit 1; }
  mkdir -p "$dir"
  Rscript -e '
    args <- commandArgs(trailingOnly = TRUE)
    e <- new.env(); lazyLoad("/usr/lib/R/site-library/modeldata/data/Rdata", envir = e)
    for (n in c("training_data", "testing_data")) {
      x <- e[[n]]
      out <- data.frame(text = x$review, label = as.character(x$score))
      write.csv(out, file.path(args[1], if (n == "training_data") "train.csv" else "test.csv"), row.names = FALSE)
    }
    f <- new.env(); lazyLoad("/usr/lib/R/site-library/tidytext/data/Rdata", envir = f)
    write.csv(f$sentiments, file.path(args[1], "bing.csv"), row.names = FALSE)
  ' "$dir" >&2
  touch "$dir/.complete"
fi
echo "$dir"
