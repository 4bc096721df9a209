// Appended inside the generated module factory (--post-js): small hooks for the facade.
// Under Node, idle pthread workers must not keep the process alive after the caller is done.
Module['vitrineUnrefThreads'] = function () {
  if (typeof PThread === 'undefined') return 0;
  var workers = PThread.unusedWorkers.concat(PThread.runningWorkers);
  for (var i = 0; i < workers.length; i++) {
    if (workers[i] && typeof workers[i].unref === 'function') workers[i].unref();
  }
  return workers.length;
};
// Stops every pthread worker (the module is unusable afterwards).
Module['vitrineTerminateThreads'] = function () {
  if (typeof PThread !== 'undefined') PThread.terminateAllThreads();
};
// Ranked items as the recommender returns them, [{ id, score, because?: { id, similarity } }], from
// one string holding the ids back to back (lengths: UTF-16 units of each: the ranked items', then
// the explaining ones'), the scores, and per item the explaining item (-1: none) and its similarity.
// The typed arrays view the wasm heap and are read before anything else runs.
Module['vitrineRankResults'] = function (text, lengths, scores, because, similarity) {
  var out = new Array(scores.length);
  var at = 0, next = scores.length;
  for (var i = 0; i < scores.length; i++) {
    var o = { id: text.slice(at, at + lengths[i]), score: scores[i] };
    at += lengths[i];
    out[i] = o;
  }
  for (var j = 0; j < scores.length; j++) {
    if (because[j] < 0) continue;
    out[j].because = { id: text.slice(at, at + lengths[next]), similarity: similarity[j] };
    at += lengths[next++];
  }
  return out;
};
