using Pipeline.Bench.Reporting;

namespace Pipeline.Bench.Commit;

/// <summary>
/// CPU time of the PostgreSQL processes working for one database (backends and autovacuum workers: the children of the
/// postmaster whose process title names the database), read from /proc. A backend that exits within the interval (pgbench's,
/// when pgbench disconnects) takes its counters with it, so <see cref="StartPolling"/> samples every 100 ms and keeps the
/// last value seen per process: at most the final 100 ms of such a process are missed. Shared work (WAL writer,
/// checkpointer) is not counted. Linux only; elsewhere everything reads as zero.
/// </summary>
internal sealed class ServerCpu
{
    private readonly int postmaster;
    private readonly string title;

    public ServerCpu(int postmaster, string database)
    {
        this.postmaster = postmaster;
        title = " " + database + " ";
    }

    /// <summary>The parent of a backend pid: the postmaster, if that pid is a local PostgreSQL process at all (a remote
    /// server's pid may name an unrelated process here); null otherwise.</summary>
    public static int? PostmasterOf(int backend) =>
        ProcStat.Read(backend) is { } stat && ProcStat.CommandLine(backend) is { } title && title.StartsWith("postgres", StringComparison.Ordinal) ? stat.Parent : null;

    /// <summary>Process CPU (user + system) of every matching process now.</summary>
    public Dictionary<int, long> Snapshot()
    {
        var ticks = new Dictionary<int, long>();
        foreach (var pid in ProcStat.Pids())
        {
            if (ProcStat.Read(pid) is { } stat && stat.Parent == postmaster && ProcStat.CommandLine(pid) is { } name && name.Contains(title, StringComparison.Ordinal))
            {
                ticks[pid] = stat.Ticks;
            }
        }

        return ticks;
    }

    /// <summary>Samples until the returned handle is stopped; <see cref="Polling.StopAsync"/> gives the CPU seconds used.</summary>
    public Polling StartPolling(bool poll) => new(this, poll);

    /// <summary>One measured interval: the first and the last value seen per process.</summary>
    internal sealed class Polling
    {
        private readonly ServerCpu owner;
        private readonly Dictionary<int, long> first;
        private readonly Dictionary<int, long> last;
        private readonly Task loop;
        private volatile bool stopped;

        public Polling(ServerCpu owner, bool poll)
        {
            this.owner = owner;
            first = owner.Snapshot();
            last = new Dictionary<int, long>(first);
            loop = poll ? Task.Run(PollAsync) : Task.CompletedTask;
        }

        /// <summary>CPU seconds the matching processes used since the start.</summary>
        public async Task<double> StopAsync()
        {
            stopped = true;
            await loop;
            Merge(owner.Snapshot());
            return last.Sum(p => p.Value - first.GetValueOrDefault(p.Key)) / ProcStat.TicksPerSecond;
        }

        private async Task PollAsync()
        {
            while (!stopped)
            {
                await Task.Delay(100);
                Merge(owner.Snapshot());
            }
        }

        private void Merge(Dictionary<int, long> now)
        {
            lock (last)
            {
                foreach (var (pid, ticks) in now)
                {
                    last[pid] = Math.Max(ticks, last.GetValueOrDefault(pid));
                }
            }
        }
    }
}
