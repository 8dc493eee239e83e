using System.Diagnostics;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.Testing.Liveness;

/// <summary>
/// Notices the pauses no schedule injected: this process not getting a core (a timer firing late), or the server not
/// answering (a round trip on a direct session taking long). On a shared two-core machine either can last a session
/// timeout; the schedules count such a pause as a fault, so "whole again after the last fault" stays a bound on the
/// election, not on the machine. Pauses are reported with the failures they may explain.
/// </summary>
public sealed class PauseMonitor : IAsyncDisposable
{
    /// <summary>Shorter hiccups do not matter: the client's read timeout of a 1 s session is 667 ms.</summary>
    public static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(200);

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);
    private readonly List<(long Start, long End, string What)> pauses = [];
    private long lastLook; // when the process watch last looked (Stopwatch timestamp)
    private readonly Lock gate = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Task process;
    private readonly Task server;

    public PauseMonitor(ZooKeeperClient admin)
    {
        process = Task.Run(() => WatchProcessAsync(stop.Token));
        server = Task.Run(() => WatchServerAsync(admin, stop.Token));
    }

    /// <summary>Returns once the process watch has looked at or after <paramref name="instant"/> (a Stopwatch timestamp), at
    /// most a second later: a stall of the whole machine ends for a waiting caller and for the watch at about the same time,
    /// and the stall is recorded only when the watch looks.</summary>
    public async Task CaughtUpAsync(long instant, CancellationToken cancellationToken)
    {
        var limit = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
        while (Volatile.Read(ref lastLook) < instant && Stopwatch.GetTimestamp() < limit)
        {
            await Task.Delay(Tick, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The end of the last pause that ended after <paramref name="since"/> (Stopwatch timestamps), or 0.</summary>
    public long LastEndAfter(long since)
    {
        lock (gate)
        {
            return pauses.Where(p => p.End > since).Select(p => p.End).DefaultIfEmpty(0).Max();
        }
    }

    /// <summary>The pauses that overlap [<paramref name="from"/>, <paramref name="to"/>], described.</summary>
    public IReadOnlyList<string> Between(long from, long to)
    {
        lock (gate)
        {
            return [.. pauses.Where(p => p.End > from && p.Start < to).Select(p => $"{p.What} for {Ms(p.End - p.Start):0} ms, from {Ms(p.Start - from):0} ms")];
        }
    }

    /// <summary>How many pauses of each kind, and the longest.</summary>
    public override string ToString()
    {
        lock (gate)
        {
            return pauses.Count == 0 ? "no pauses" : string.Join("; ", pauses.GroupBy(p => p.What).Select(g => $"{g.Key}: {g.Count()} times, longest {g.Max(p => Ms(p.End - p.Start)):0} ms"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(process, server).ConfigureAwait(false);
        stop.Dispose();
    }

    private async Task WatchProcessAsync(CancellationToken token)
    {
        var last = Stopwatch.GetTimestamp();
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Tick, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var now = Stopwatch.GetTimestamp();
            if (Stopwatch.GetElapsedTime(last, now) > Tick + Threshold)
            {
                Record(last, now, "this process stood still");
            }

            Volatile.Write(ref lastLook, now);

            last = now;
        }
    }

    private async Task WatchServerAsync(ZooKeeperClient admin, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await admin.ExistsAsync("/", null, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (KeeperException)
            {
                // The server did not answer at all: counted as a pause of the time it took to say so.
            }

            var end = Stopwatch.GetTimestamp();
            if (Stopwatch.GetElapsedTime(start, end) > Threshold)
            {
                Record(start, end, "the server did not answer");
            }

            try
            {
                await Task.Delay(Tick, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Record(long start, long end, string what)
    {
        lock (gate)
        {
            pauses.Add((start, end, what));
        }
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
