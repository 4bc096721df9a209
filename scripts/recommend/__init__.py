"""Recommendation data, fixed evaluation protocols, metrics and baselines (issue 5).

Pure Python 3 + numpy (Debian's python3-numpy). Modules:
  data       read an interactions CSV (user,item,rating,timestamp), implicit positives
  splits     strong generalization (user folds, 80/20 fold-in) and next item (leave last out)
  metrics    NDCG@k, Recall@k (Liang et al. 2018 denominator), HR@k with full ranking
  baselines  popularity, item-kNN, EASE (Steck 2019), each with its validation grid
  eval       `npm run eval -- recommend`: every baseline on both protocols and all folds
"""
