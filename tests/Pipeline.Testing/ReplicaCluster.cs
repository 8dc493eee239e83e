using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.Testing;

/// <summary>
/// N OrderService replicas as separate processes (<c>dotnet Pipeline.OrderService.dll run</c>), each with its own node id,
/// HTTP port and log file, all on the services of <see cref="ReplicaClusterOptions"/>, with the faults a test inflicts:
/// SIGTERM, SIGKILL, SIGSTOP/SIGCONT, restart. A background poll of every /status records each leader and candidate seen.
/// Disposing kills every process the cluster started; so does the test process's exit, and the next run kills replicas whose
/// test process died without either.
/// </summary>
public sealed partial class ReplicaCluster : IAsyncDisposable
{
    public const string OwnerVariable = "PIPELINE_TEST_REPLICA_OWNER";
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly ReplicaClusterOptions options;
    private readonly string dll;
    private readonly string logDirectory;
    private readonly List<Replica> replicas = [];
    private readonly ConcurrentDictionary<(string, FencingToken), ObservedLeader> leaders = new();
    private readonly ConcurrentDictionary<long, string?> candidates = new();
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource stopping = new();
    private Task? observer;

    public ReplicaCluster(ReplicaClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        dll = options.ServiceDll ?? FindServiceDll();
        logDirectory = options.LogDirectory ?? Path.Combine(Path.GetTempPath(), "pipeline-replicas", TestResourceNames.New());
        Directory.CreateDirectory(logDirectory);
        HookProcessExit();
    }

    public IReadOnlyList<Replica> Replicas => replicas;

    public string LogDirectory => logDirectory;

    /// <summary>Every (node, token) seen leading in a /status answer.</summary>
    public IReadOnlyCollection<ObservedLeader> ObservedLeaders => [.. leaders.Values.OrderBy(l => l.FirstSeen)];

    /// <summary>Every election node seen in a /status answer: its sequence and the node id it carried.</summary>
    public IReadOnlyDictionary<long, string?> ObservedCandidates => candidates;

    public Replica this[int index] => replicas[index];

    /// <summary>Every (node, token) a replica's log says it led with (the election's "X leads with token G:S" line): evidence
    /// for leaderships too short for the /status poll to see.</summary>
    public IReadOnlySet<(string NodeId, FencingToken Token)> LoggedLeaders()
    {
        var found = new HashSet<(string, FencingToken)>();
        foreach (var log in Logs())
        {
            foreach (Match match in LeadsLine().Matches(log))
            {
                found.Add((match.Groups[1].Value, new FencingToken(long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture))));
            }
        }

        return found;
    }

    /// <summary>The lines of every replica's log (all its starts) that contain <paramref name="text"/>.</summary>
    public IReadOnlyList<string> LogLinesContaining(string text) =>
        [.. Logs().SelectMany(log => log.Split('\n')).Where(line => line.Contains(text, StringComparison.Ordinal))];

    /// <summary>Each replica's whole log, read while it is still being written.</summary>
    private IEnumerable<string> Logs()
    {
        foreach (var replica in replicas.Where(r => File.Exists(r.LogPath)))
        {
            using var stream = new FileStream(replica.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            yield return reader.ReadToEnd();
        }
    }

    /// <summary>Starts replicas 0..count-1 at once and, unless told not to, waits until each is ready.</summary>
    public async Task StartAsync(int count, bool waitReady = true)
    {
        var ports = FreePorts.Take(count);
        for (var i = replicas.Count; i < count; i++)
        {
            replicas.Add(new Replica(i, $"{options.NodeIdPrefix}-{i}", ports[i], Path.Combine(logDirectory, $"{options.NodeIdPrefix}-{i}.log")));
        }

        await Task.WhenAll(replicas.Take(count).Where(r => !r.IsRunning).Select(r => StartReplicaAsync(r.Index, waitReady))).ConfigureAwait(false);
        observer ??= Task.Run(ObserveAsync);
    }

    /// <summary>Starts replica <paramref name="index"/> again (same node id, port and log) and, unless told not to, waits
    /// until it is ready.</summary>
    public async Task StartReplicaAsync(int index, bool waitReady = true)
    {
        var replica = replicas[index];
        if (replica.IsRunning)
        {
            throw new InvalidOperationException($"{replica} is already running");
        }

        replica.Starts++;
        replica.IsPaused = false;
        await File.AppendAllTextAsync(replica.LogPath, $"===== start #{replica.Starts} at {DateTimeOffset.UtcNow:HH:mm:ss.fff} =====\n").ConfigureAwait(false);
        var environment = ServiceEnvironment(options);
        environment["Pipeline__NodeId"] = replica.NodeId;
        environment["Pipeline__HttpPort"] = replica.HttpPort.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in options.ReplicaEnvironment?.Invoke(index) ?? new Dictionary<string, string?>())
        {
            environment[name] = value;
        }
        var host = options.ServiceDll is null && NeedsReplicaHost(environment) ? FindReplicaHostDll() : dll;
        replica.Process = Launch(host, replica.LogPath, environment, ["run"]);
        if (waitReady)
        {
            await WaitReadyAsync(index).ConfigureAwait(false);
        }
    }

    /// <summary>Starts every replica that is not running (after a test stopped or killed some).</summary>
    public Task RestartStoppedAsync() => Task.WhenAll(replicas.Where(r => !r.IsRunning).Select(r => StartReplicaAsync(r.Index)));

    /// <summary>Waits until /health/ready answers 200; fails at once, with the log, if the process exits first.</summary>
    public Task WaitReadyAsync(int index, TimeSpan? timeout = null)
    {
        var replica = replicas[index];
        return PollAsync(async () =>
        {
            if (!replica.IsRunning)
            {
                throw new InvalidOperationException($"{replica} exited before it was ready:\n{Tail(replica)}");
            }

            using var response = await Http.GetAsync(new Uri(replica.BaseAddress, "health/ready")).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }, timeout ?? options.StartTimeout, () => $"{replica.NodeId} to be ready");
    }

    /// <summary>Every running replica ready.</summary>
    public Task WaitReadyAsync() => Task.WhenAll(replicas.Where(r => r.IsRunning).Select(r => WaitReadyAsync(r.Index)));

    /// <summary>Polls the /status of every running, unpaused replica until exactly one says it leads (with a token newer
    /// than <paramref name="newerThan"/>, when given).</summary>
    public async Task<ObservedLeader> LeaderAsync(FencingToken? newerThan = null, TimeSpan? timeout = null)
    {
        ObservedLeader? found = null;
        string seen = "";
        await PollAsync(async () =>
        {
            var answers = await Task.WhenAll(replicas.Where(r => r.IsRunning && !r.IsPaused).Select(async r => (r, s: await TryStatusAsync(r.Index).ConfigureAwait(false)))).ConfigureAwait(false);
            var leading = answers.Where(a => a.s is { IsLeader: true }).ToList();
            seen = string.Join("; ", answers.Select(a => a.s is null ? $"{a.r.NodeId}: no answer" : $"{a.r.NodeId}: {a.s.State} leader={a.s.IsLeader} token {a.s.Token}"));
            if (leading is [var (_, status)] && status!.Token is { } token && (newerThan is null || token > newerThan.Value))
            {
                found = leaders[(status.NodeId, token)];
                return true;
            }

            return false;
        }, timeout ?? TimeSpan.FromSeconds(60), () => $"exactly one leader{(newerThan is null ? "" : $" with a token above {newerThan}")} (last seen: {seen})").ConfigureAwait(false);
        return found!;
    }

    /// <summary>Waits until a running replica other than <paramref name="leader"/> is armed on its crash signal (a standby
    /// that joined a moment ago may not be yet: a crash then would wait for the session to expire).</summary>
    public Task WaitStandbyArmedAsync(ObservedLeader leader, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(leader);
        var seen = "";
        return PollAsync(async () =>
        {
            (var armed, seen) = await ArmedStandbyAsync(leader.Index, leader.Token).ConfigureAwait(false);
            return armed;
        }, timeout ?? TimeSpan.FromSeconds(30), () => $"a standby armed on {leader.NodeId}'s crash signal ({leader.Token}) (last seen: {seen})");
    }

    /// <summary>Whether a running replica other than the one at <paramref name="leaderIndex"/> is armed on its crash signal
    /// now (false when the leader does not answer, or leads with no token).</summary>
    public async Task<bool> IsStandbyArmedAsync(int leaderIndex) =>
        (await TryStatusAsync(leaderIndex).ConfigureAwait(false))?.Token is { } token && (await ArmedStandbyAsync(leaderIndex, token).ConfigureAwait(false)).Armed;

    /// <summary>Every (node, token, time) a replica's log says it led with, the time as logged (UTC, this machine's clock).</summary>
    public IReadOnlyList<(string NodeId, FencingToken Token, DateTimeOffset At)> LoggedLeaderships()
    {
        var now = DateTimeOffset.UtcNow;
        return [.. Logs().SelectMany(log => TimedLeadsLine().Matches(log)).Select(match => (match.Groups[2].Value,
            new FencingToken(long.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture), long.Parse(match.Groups[4].Value, CultureInfo.InvariantCulture)),
            LoggedAt(match.Groups[1].Value, now)))];
    }

    /// <summary>GET /status of replica <paramref name="index"/>.</summary>
    public async Task<ReplicaStatus> StatusAsync(int index)
    {
        var replica = replicas[index];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var json = await Http.GetStringAsync(new Uri(replica.BaseAddress, "status"), timeout.Token).ConfigureAwait(false);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        FencingToken? token = root.GetProperty("token").GetString() is { } text && text.Split(':') is [var g, var s]
            ? new FencingToken(long.Parse(g, CultureInfo.InvariantCulture), long.Parse(s, CultureInfo.InvariantCulture))
            : null;
        var commits = root.GetProperty("commits");
        var status = new ReplicaStatus(root.GetProperty("nodeId").GetString()!, root.GetProperty("state").GetString()!, root.GetProperty("isLeader").GetBoolean(), token,
            commits.GetProperty("confirmed").GetInt64(), commits.GetProperty("rejected").GetInt64(),
            [.. root.GetProperty("candidates").EnumerateArray().Select(c => (c.GetProperty("nodeId").GetString(), c.GetProperty("sequence").GetInt64()))], json)
        {
            CrashSignal = root.TryGetProperty("crashSignal", out var signal) ? signal.GetString() : null,
        };
        foreach (var (nodeId, sequence) in status.Candidates)
        {
            candidates.TryAdd(sequence, nodeId);
        }

        if (status is { IsLeader: true, Token: { } leading })
        {
            leaders.TryAdd((status.NodeId, leading), new ObservedLeader(index, status.NodeId, leading, clock.Elapsed));
        }

        return status;
    }

    /// <summary>SIGTERM, then waits for the exit (a graceful stop resigns leadership); returns the exit code.</summary>
    public async Task<int> StopGracefullyAsync(int index, TimeSpan? timeout = null)
    {
        var replica = replicas[index];
        var process = replica.Process ?? throw new InvalidOperationException($"{replica} was never started");
        if (process.HasExited)
        {
            return process.ExitCode;
        }

        if (replica.IsPaused)
        {
            Resume(index);
        }

        Signals.Send(process.Id, Signals.Terminate);
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(45));
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{replica} did not exit within {(timeout ?? TimeSpan.FromSeconds(45)).TotalSeconds:0} s of SIGTERM:\n{Tail(replica)}");
        }

        Live.TryRemove(process.Id, out _);
        return process.ExitCode;
    }

    /// <summary>SIGKILL (no resignation: the session is left to expire) and waits for the process to be gone.</summary>
    public void Kill(int index)
    {
        var replica = replicas[index];
        if (replica.Process is { HasExited: false } process)
        {
            process.Kill(); // SIGKILL; no error when it has just exited by itself
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException($"{replica} survived SIGKILL for 30 s");
            }

            Live.TryRemove(process.Id, out _);
        }

        replica.IsPaused = false;
    }

    /// <summary>SIGSTOP: the process freezes (a GC pause, a frozen VM); its sockets stay open.</summary>
    public void Pause(int index) => Signal(index, Signals.Stop, paused: true);

    /// <summary>SIGCONT.</summary>
    public void Resume(int index) => Signal(index, Signals.Continue, paused: false);

    /// <summary>Every replica's state and log, for failure messages.</summary>
    public string Describe(int tailLines = 0) => string.Join("\n", replicas.Select(r => tailLines > 0 ? $"{r}:\n{Tail(r, tailLines)}" : r.ToString()));

    /// <summary>The last lines of a replica's log.</summary>
    public static string Tail(Replica replica, int lines = 40)
    {
        ArgumentNullException.ThrowIfNull(replica);
        try
        {
            using var stream = new FileStream(replica.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join("\n", all.TakeLast(lines).Select(l => "    | " + l));
        }
        catch (IOException ex)
        {
            return $"    (log {replica.LogPath} unreadable: {ex.Message})";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        if (observer is not null)
        {
            await observer.ConfigureAwait(false);
        }

        foreach (var replica in replicas)
        {
            Kill(replica.Index);
            replica.Process?.Dispose();
        }

        stopping.Dispose();
    }

    /// <summary>When each token first bumped the fence, from the replicas' logs ("Fence R acquired by X with token G:S", the
    /// time of day in UTC, written just after the bump committed): from then on no commit under an older token may start.</summary>
    public IReadOnlyDictionary<FencingToken, DateTimeOffset> LoggedFenceAcquisitions()
    {
        var found = new Dictionary<FencingToken, DateTimeOffset>();
        var now = DateTimeOffset.UtcNow;
        foreach (var log in Logs())
        {
            foreach (Match match in FenceAcquiredLine().Matches(log))
            {
                var token = new FencingToken(long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
                var at = LoggedAt(match.Groups[1].Value, now);
                if (!found.TryGetValue(token, out var first) || at < first)
                {
                    found[token] = at;
                }
            }
        }

        return found;
    }

    private void Signal(int index, int signal, bool paused)
    {
        var replica = replicas[index];
        var pid = replica.Pid ?? throw new InvalidOperationException($"{replica} is not running");
        Signals.Send(pid, signal);
        replica.IsPaused = paused;
        if (signal == Signals.Stop)
        {
            // A pause counts from when the process stands still, not from when the signal was sent.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!ProcessTable.IsStopped(pid))
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(5))
                {
                    throw new TimeoutException($"{replica} did not stop within 5 s of SIGSTOP");
                }

                Thread.Sleep(1);
            }
        }
    }

    [GeneratedRegex(@"ElectionCandidate\[\d+\] (\S+) leads with token (\d+):(\d+)")]
    private static partial Regex LeadsLine();

    [GeneratedRegex(@"^(\d\d:\d\d:\d\d\.\d{3}) info: \S+ElectionCandidate\[\d+\] (\S+) leads with token (\d+):(\d+)", RegexOptions.Multiline)]
    private static partial Regex TimedLeadsLine();

    /// <summary>A log line's time of day (UTC) as a moment: today's, or yesterday's for a line from before midnight.</summary>
    private static DateTimeOffset LoggedAt(string timeOfDay, DateTimeOffset now)
    {
        var at = new DateTimeOffset(now.UtcDateTime.Date + TimeSpan.ParseExact(timeOfDay, @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture), TimeSpan.Zero);
        return at > now.AddHours(1) ? at.AddDays(-1) : at;
    }

    /// <summary>Whether one of the running replicas but <paramref name="leaderIndex"/> is armed on the crash signal of
    /// <paramref name="token"/>, and what each said (for failure messages).</summary>
    private async Task<(bool Armed, string Seen)> ArmedStandbyAsync(int leaderIndex, FencingToken token)
    {
        var answers = await Task.WhenAll(replicas.Where(r => r.Index != leaderIndex && r.IsRunning && !r.IsPaused).Select(r => TryStatusAsync(r.Index))).ConfigureAwait(false);
        return (answers.Any(a => a?.IsArmedOn(token) == true),
            string.Join("; ", answers.Select(a => a is null ? "no answer" : $"{a.NodeId}: {a.CrashSignal ?? "no crash signal"}")));
    }

    [GeneratedRegex(@"^(\d\d:\d\d:\d\d\.\d{3}) info: \S+FencedCommitter\[\d+\] Fence \S+ acquired by \S+ with token (\d+):(\d+)", RegexOptions.Multiline)]
    private static partial Regex FenceAcquiredLine();

    private async Task<ReplicaStatus?> TryStatusAsync(int index)
    {
        try
        {
            return await StatusAsync(index).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    private async Task ObserveAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            await Task.WhenAll(replicas.Where(r => r.IsRunning && !r.IsPaused).Select(r => TryStatusAsync(r.Index))).ConfigureAwait(false);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private async Task PollAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what)
    {
        var limit = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
            {
                last = ex;
            }

            if (limit.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what()}.{(last is null ? "" : $" Last error: {last.Message}")}\nReplicas:\n{Describe(20)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        }
    }
}
