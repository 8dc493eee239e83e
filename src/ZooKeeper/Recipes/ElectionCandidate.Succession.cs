using System.Text.Json;
using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>
/// Fast succession: while leading, the candidate holds its <see cref="ILeaderCrashSignal"/>; while standing by, it waits on
/// the leader's. A release seen while that leader's node is still the lowest ends it: the standby deletes the node (the
/// service identity may), and the election goes on as if the session had expired, milliseconds after a crash instead of a
/// session timeout later. Safety never rests on this: a live leader deleted by mistake loses its lease (it watches its
/// own node), and the fence refuses whatever it still tries to commit.
/// <para>Why a leader left is written, before its node goes, into the election path's data (<see cref="SuccessionMarker"/>):
/// by the leader itself when it resigns or stops, by the standby that deletes it on its signal. A successor that finds no
/// word about its predecessor knows the session expired.</para>
/// </summary>
public sealed partial class ElectionCandidate
{
    private const int HistoryLength = 32;
    private readonly Queue<ElectionHistoryEntry> history = new();
    private SignalTask? hold;
    private SignalTask? watch;
    private ReleasedLeader? releasedLeader;
    private (string Name, string? NodeId)? awaitedLeader;
    private string? ledNode;
    private string? deletedOnSignal;
    private Task signalTasksEnded = Task.CompletedTask;
    private string? signalState;
    private TaskCompletionSource historyAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>This candidate's last leaderships and successions, oldest first: when it led and why, when that ended and
    /// why, and leaders it deleted on their crash signal.</summary>
    public IReadOnlyList<ElectionHistoryEntry> History
    {
        get
        {
            lock (gate)
            {
                return [.. history];
            }
        }
    }

    private void AddHistory(string @event, FencingToken? token, string? previous, string detail)
    {
        lock (gate)
        {
            history.Enqueue(new ElectionHistoryEntry(DateTimeOffset.UtcNow, @event, token, previous, detail));
            while (history.Count > HistoryLength)
            {
                history.Dequeue();
            }

            historyAdded.TrySetResult();
            historyAdded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>The history's "led" entry of the lease with <paramref name="token"/>, once this candidate knows why it leads
    /// (the cause is settled just after the lease is granted: it may need to read the election path's marker).</summary>
    public async Task<ElectionHistoryEntry> LedEntryAsync(FencingToken token, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task added;
            lock (gate)
            {
                if (history.LastOrDefault(e => e.Event == "led" && e.Token == token) is { } entry)
                {
                    return entry;
                }

                added = historyAdded.Task;
            }

            await added.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Holds our crash signal for <paramref name="token"/> from now on (the one held for another token goes).</summary>
    private void StartHolding(FencingToken token)
    {
        if (options.CrashSignal is not { } signal || hold?.Token == token)
        {
            return;
        }

        StopHolding();
        var stop = new CancellationTokenSource();
        SetSignalState($"taking {token}'s");
        hold = new SignalTask(null, token, stop, Task.Run(() => signal.HoldAsync(token, () => SetSignalState($"holding {token}'s", stop.Token), stop.Token)));
    }

    /// <summary>Where this candidate stands with the crash signal, for operators (<c>/status</c>): "holding 7:12's",
    /// "armed on leader 7:12's" (a crash of that leader is noticed at once), "waiting for leader 7:12 to hold its" (not
    /// yet: its crash would wait for the session), or null (no signal, or none in use).</summary>
    public string? CrashSignal => Volatile.Read(ref signalState) is { } state ? state + " crash signal" : null;

    /// <summary>Sets <see cref="CrashSignal"/>'s state, unless <paramref name="current"/> (the reporting task's) has ended.</summary>
    private void SetSignalState(string? state, CancellationToken current = default)
    {
        lock (gate)
        {
            if (!current.IsCancellationRequested)
            {
                Volatile.Write(ref signalState, state);
            }
        }
    }

    /// <summary>Cancels <paramref name="ending"/> and clears the state it reported, so a late report of it is dropped.</summary>
    private Task End(SignalTask ending)
    {
        lock (gate)
        {
            ending.Stop.Cancel();
            Volatile.Write(ref signalState, null);
        }

        return ending.End(logger);
    }

    /// <summary>Lets our crash signal go. Called only once our node is deleted, or is not the leader's, so a standby that
    /// sees the release finds nothing of ours to delete.</summary>
    private void StopHolding() => Stop(ref hold);

    private void StopWatching() => Stop(ref watch);

    /// <summary>Both, when the session (and our node with it) is gone.</summary>
    private void StopSignalTasks()
    {
        StopHolding();
        StopWatching();
    }

    private void Stop(ref SignalTask? task)
    {
        if (Interlocked.Exchange(ref task, null) is { } ending)
        {
            signalTasksEnded = Task.WhenAll(signalTasksEnded, End(ending));
        }
    }

    /// <summary>Waits on the signal of the leader <paramref name="name"/> (the wait on an earlier leader's ends).</summary>
    private void WatchLeader(string name, FencingToken token, string? nodeId)
    {
        if (options.CrashSignal is not { } signal || watch?.Node == name)
        {
            return;
        }

        StopWatching();
        var stop = new CancellationTokenSource();
        SetSignalState($"waiting for leader {token} to hold its");
        watch = new SignalTask(name, token, stop, Task.Run(async () =>
        {
            await signal.WaitForReleaseAsync(token, () => SetSignalState($"armed on leader {token}'s", stop.Token), stop.Token).ConfigureAwait(false);
            Volatile.Write(ref releasedLeader, new ReleasedLeader(name, token, nodeId ?? name));
            Signal();
        }));
    }

    /// <summary>Watches the leader's node as well as our predecessor's, so a standby further back learns of every new leader
    /// and waits on its signal (without it, a wait on a leader that died before we saw its signal held would never end,
    /// and nothing else would wake us). Whether the node is gone, whether it is ephemeral (a candidate's) and its node id.</summary>
    private async Task<(bool Gone, bool Ephemeral, string? NodeId)> WatchNodeAsync(ZooKeeperClient zk, string name, CancellationToken token)
    {
        try
        {
            // getData, not exists: a gone node gets no watch that would never fire (see EvaluateAsync).
            var data = await zk.GetDataAsync(PathRules.Combine(options.ElectionPath, name), wakeWatcher, token).ConfigureAwait(false);
            return (false, ElectionNode.IsEphemeralOwner(data.Stat.EphemeralOwner), CandidateInfo.TryParse(data.Data)?.NodeId);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            return (true, false, null);
        }
    }

    /// <summary>Deletes the node of the leader whose crash signal was released, with the word why, in one transaction.</summary>
    private async Task DeleteOnSignalAsync(ZooKeeperClient zk, ReleasedLeader leader, CancellationToken token)
    {
        try
        {
            await DeleteWithMarkerAsync(zk, leader.Name, SuccessionCause.CrashSignal, token).ConfigureAwait(false);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            return; // another standby was quicker, or it left by itself
        }

        deletedOnSignal = leader.Name;
        logger.LogWarning("Crash signal of leader {Leader} ({Token}, node {Node}) released while its node was the lowest: {NodeId} deleted the node, so the election goes on without waiting for its session to expire",
            leader.NodeId, leader.Token, leader.Name, options.NodeId);
        AddHistory("deleted-on-crash-signal", leader.Token, leader.NodeId, $"the crash signal of {leader.NodeId} was released; its node {leader.Name} deleted");
    }

    /// <summary>Deletes election node <paramref name="node"/> and writes why into the election path's data, in one
    /// transaction (one write for the ensemble to sync, not two). Where the path's data may not be written (another
    /// identity's path), the node is deleted alone: a successor then takes it for an expired session.</summary>
    private async Task DeleteWithMarkerAsync(ZooKeeperClient zk, string node, SuccessionCause cause, CancellationToken token)
    {
        var path = PathRules.Combine(options.ElectionPath, node);
        var marker = new SuccessionMarker(node, Describe(cause), options.NodeId, DateTimeOffset.UtcNow);
        try
        {
            await zk.MultiAsync([Op.SetData(options.ElectionPath, marker.ToJson()), Op.Delete(path)], token).ConfigureAwait(false);
        }
        catch (MultiOperationException ex) when (ex.Code is not ErrorCode.NoNode)
        {
            logger.LogDebug(ex, "Writing the succession marker into {Path} failed; deleting {Node} alone", options.ElectionPath, node);
            await zk.DeleteAsync(path, -1, token).ConfigureAwait(false);
        }
    }

    /// <summary>Why we lead now: from what we saw, and from the election path's word about the node we waited behind.</summary>
    private async Task<SuccessionCause> SuccessionCauseAsync(ZooKeeperClient zk, string ours, CancellationToken token)
    {
        var previous = ledNode;
        ledNode = ours;
        if (previous == ours)
        {
            return SuccessionCause.Resumed;
        }

        if (awaitedLeader is not { } before)
        {
            return SuccessionCause.First;
        }

        if (deletedOnSignal == before.Name)
        {
            return SuccessionCause.CrashSignal;
        }

        try
        {
            var data = await zk.GetDataAsync(options.ElectionPath, null, token).ConfigureAwait(false);
            var marker = SuccessionMarker.TryParse(data.Data);
            if (marker?.Node == before.Name)
            {
                return marker.Cause == Describe(SuccessionCause.CrashSignal) ? SuccessionCause.CrashSignal : SuccessionCause.Graceful;
            }
        }
        catch (KeeperException ex) when (!token.IsCancellationRequested)
        {
            logger.LogDebug(ex, "Reading the succession marker of {Path} failed", options.ElectionPath);
        }

        return SuccessionCause.SessionExpired;
    }

    /// <summary>Records a lease just granted: the cause, a log line, the metric, the history.</summary>
    private async Task NoteSuccessionAsync(ZooKeeperClient zk, LeadershipLease granted, CancellationToken token)
    {
        var cause = await SuccessionCauseAsync(zk, granted.Znode, token).ConfigureAwait(false);
        var previous = cause == SuccessionCause.Resumed ? options.NodeId : awaitedLeader?.NodeId ?? awaitedLeader?.Name;
        awaitedLeader = null;
        logger.LogInformation("Succession: {NodeId} leads with {Token} after {Previous} ({Cause})", options.NodeId, granted.Token, previous ?? "nobody", Describe(cause));
        metrics.Succession(cause);
        ElectionTracing.Succession(granted, Describe(cause), previous);
        AddHistory("led", granted.Token, previous, Describe(cause));
    }

    internal static string Describe(SuccessionCause cause) => cause switch
    {
        SuccessionCause.First => "first",
        SuccessionCause.Graceful => "graceful",
        SuccessionCause.CrashSignal => "crash-signal",
        SuccessionCause.SessionExpired => "session-expired",
        SuccessionCause.Resumed => "resumed",
        _ => cause.ToString(),
    };

    /// <summary>A background hold of, or wait on, a crash signal; <see cref="End"/> cancels it and forgets it.</summary>
    private sealed record SignalTask(string? Node, FencingToken Token, CancellationTokenSource Stop, Task Task)
    {
        /// <summary>Cancels the task; the returned task completes when it has ended (never faults).</summary>
        public Task End(ILogger log)
        {
            Stop.Cancel();
            return Task.ContinueWith(t =>
            {
                if (t.IsFaulted)
                {
                    log.LogWarning(t.Exception, "The crash signal task for {Token} failed", Token);
                }

                Stop.Dispose();
            }, TaskScheduler.Default);
        }
    }
}

/// <summary>A leader whose crash signal was seen released: its node, token and node id (or node name when unknown).</summary>
internal sealed record ReleasedLeader(string Name, FencingToken Token, string NodeId);

/// <summary>The election path's word about the last node that left on purpose: which, why ("graceful", "crash-signal"), by
/// whom and when.</summary>
internal sealed record SuccessionMarker(string Node, string Cause, string By, DateTimeOffset At)
{
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, CandidateInfoJson.Default.SuccessionMarker);

    public static SuccessionMarker? TryParse(byte[]? data)
    {
        if (data is not { Length: > 0 })
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(data, CandidateInfoJson.Default.SuccessionMarker);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
