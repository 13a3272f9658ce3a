// Package train is the training stage of a contrastream pipeline and the
// whole training run built around it.
//
//   - [Run] runs a training run from a serializable [Config] (data,
//     architecture as an nn.Config, recipe, optimizer, schedule,
//     evaluation, checkpointing) as one pipeline: parquet (from the cursor)
//     → decode → views → tensorize → [Trainer] → {[Checkpoints], [Report]}.
//     [Resume] continues it from the newest checkpoint of a [Store]
//     (sinks.Checkpointer is the one on disk) with the Config saved there;
//     cancelling the context aborts, closing Options.Stop (or Config.Stop)
//     stops gracefully with a checkpoint. Memory: the Tensorize pool
//     (InFlight batches of 2 views), the model and optimizer state, one
//     snapshot copy while a checkpoint is written, and the evaluation sets
//     (N·side²·channels bytes each).
//   - [Trainer] takes *stages.Batch (and releases it) and gives [Record]s:
//     a *[Step] per batch, a *[Snapshot] when a checkpoint is due, an
//     *[Eval] after an evaluation. One worker; it allocates only the Step
//     record per batch, and a snapshot copies the state.
//   - [Checkpoints] takes the Records and saves each Snapshot to a Store
//     (a failed save is fatal); [Report] hands each Step and Eval to typed
//     [Metrics] (sinks.MetricsJSONL, Prometheus, Plots, Progress).
//   - [Evaluate], [EvaluateLatest] and [EvaluateInit] score a checkpoint's
//     model, rebuilt from the checkpoint alone, or the initial model.
//
// The engine lives in the sub-packages: nn (layers and models with explicit
// forward and backward passes), loss (NT-Xent), optim (SGD, LARS, AdamW and
// schedules) and gemm (the one matrix-multiply path every layer uses).
package train
