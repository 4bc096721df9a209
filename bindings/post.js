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
