namespace Pipeline.Bench.Reporting;

/// <summary>
/// CPU time of every process on the machine over one phase, by role: RabbitMQ, PostgreSQL, the OrderService replicas, this
/// process (the storefront or the ceiling's client), ZooKeeper, the rest. Read from /proc (user + system) every 200 ms,
/// keeping the last value seen per process, so a process that exits within the phase loses at most its last 200 ms; a
/// process started within the phase counts from zero. Where a pipeline's CPU goes per order, beside the single hop's per
/// message: on two cores, CPU is what bounds the throughput. Linux only; elsewhere everything reads as zero.
/// </summary>
public sealed class CpuByRole : IAsyncDisposable
{
    private readonly Dictionary<int, (string Role, long First, long Last)> processes = [];
    private readonly CancellationTokenSource stop = new();
    private Task? polling;

    /// <summary>Takes the first reading and keeps reading until <see cref="StopAsync"/>.</summary>
    public void Start()
    {
        Read(first: true);
        polling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(200, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                Read(first: false);
            }
        });
    }

    /// <summary>CPU seconds per role since <see cref="Start"/>.</summary>
    public async Task<IReadOnlyDictionary<string, double>> StopAsync()
    {
        await stop.CancelAsync();
        if (polling is not null)
        {
            await polling;
        }

        Read(first: false);
        return processes.Values.GroupBy(p => p.Role)
            .ToDictionary(g => g.Key, g => g.Sum(p => p.Last - p.First) / ProcStat.TicksPerSecond, StringComparer.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        if (polling is not null)
        {
            await polling;
        }

        stop.Dispose();
    }

    private void Read(bool first)
    {
        foreach (var pid in ProcStat.Pids())
        {
            if (ProcStat.Read(pid) is not { } stat)
            {
                continue;
            }

            if (processes.TryGetValue(pid, out var known))
            {
                processes[pid] = known with { Last = stat.Ticks };
            }
            else if (Role(pid) is { } role)
            {
                processes[pid] = (role, first ? stat.Ticks : 0, stat.Ticks);
            }
        }
    }

    private static string? Role(int pid)
    {
        if (ProcStat.CommandLine(pid) is not { } command)
        {
            return null;
        }

        return command switch
        {
            _ when pid == Environment.ProcessId => "this process",
            _ when command.Contains("beam.smp", StringComparison.Ordinal) => "RabbitMQ",
            _ when command.StartsWith("postgres", StringComparison.Ordinal) || command.Contains("/postgresql/", StringComparison.Ordinal) => "PostgreSQL",
            _ when command.Contains("Pipeline.OrderService.dll", StringComparison.Ordinal) => "replicas",
            _ when command.Contains("zookeeper", StringComparison.OrdinalIgnoreCase) => "ZooKeeper",
            "" => null, // kernel threads
            _ => "other",
        };
    }
}
