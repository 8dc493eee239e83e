namespace Pipeline.Bench.Commit;

/// <summary>One measured run of one side (ours, pgbench, pgbench-pipelined) at one batch size: what it committed in how
/// long, and what it cost. Per-order costs are null where the side cannot report them.</summary>
internal sealed record CommitRun(string Side, int Batch, int Round, long Orders, long Transactions, double Seconds)
{
    public const string Ours = "ours";
    public const string Pgbench = "pgbench";
    public const string Pipelined = "pgbench-pipelined";

    public double OrdersPerSecond => Seconds > 0 ? Math.Round(Orders / Seconds, 1) : 0;

    public double? TxLatencyAvgMs { get; init; }

    public double? TxLatencyP50Ms { get; init; }

    public double? TxLatencyP99Ms { get; init; }

    /// <summary>CPU of the client process (ours: all threads, JIT and GC included; pgbench: user + system from the shell's `times`).</summary>
    public double? ClientCpuUsPerOrder { get; init; }

    /// <summary>CPU of the database's backends (<see cref="ServerCpu"/>).</summary>
    public double? ServerCpuUsPerOrder { get; init; }

    public double? AllocatedBytesPerOrder { get; init; }

    public int? Gen0Collections { get; init; }

    public double? MachineBusyPercent { get; init; }

    /// <summary>The run used up its pre-recorded orders before its time was up (ours stops there; pgbench's later
    /// transactions would have updated no orders row, so its number would be too high).</summary>
    public bool PoolExhausted { get; init; }

    public override string ToString() => FormattableString.Invariant(
        $"{Side,-17} batch {Batch,3} round {Round}: {OrdersPerSecond,9:0} orders/s ({Transactions} tx, {Seconds:0.0} s; ") +
        FormattableString.Invariant($"tx {TxLatencyAvgMs:0.000} ms avg; CPU/order client {ClientCpuUsPerOrder:0.0} us, server {ServerCpuUsPerOrder:0.0} us; machine {MachineBusyPercent:0}% busy)") +
        (PoolExhausted ? " POOL EXHAUSTED" : "");
}
