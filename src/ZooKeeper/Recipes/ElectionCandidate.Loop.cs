using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    /// <summary>The candidate's life: a session at a time, until disposal. Nothing else ends it: whatever fails is
    /// reported (<see cref="ElectionState.Failed"/>) and tried again after a backoff.</summary>
    private async Task RunAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            ZooKeeperClient zk;
            try
            {
                zk = await ZooKeeperClient.ConnectAsync(options.ClientOptions(), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever stops a session from starting is reported and retried; only disposal ends the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                await FailAsync(DescribeConnectFailure(ex), ex, token).ConfigureAwait(false);
                continue;
            }

            client = zk;
            zk.StateChanged += OnClientStateChanged;
            Exception? failure = null;
            try
            {
                await ParticipateAsync(zk, token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // ParticipateAsync handles what it expects; anything else costs this session, never the loop.
            catch (Exception ex)
            {
                failure = token.IsCancellationRequested ? null : ex; // when stopping, whatever it threw is the stop's echo
            }

            RevokeLease(token.IsCancellationRequested ? "stopping" : "session ended");
            zk.StateChanged -= OnClientStateChanged;
            try
            {
                if (token.IsCancellationRequested && Znode is { } node && node == ledNode && zk.State == ConnectionState.Connected)
                {
                    using var briefly = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await WriteMarkerAsync(zk, node, "graceful", briefly.Token).ConfigureAwait(false); // we stop leading on purpose
                }

                // Closing the session deletes our ephemeral node at once: the successor leads in milliseconds.
                await zk.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Closing the ZooKeeper session of {NodeId} failed; the server will expire it", options.NodeId);
            }
#pragma warning restore CA1031

            Znode = null;
            StopHolding(); // our node is gone with the session
            StopWatching();

            if (failure is not null)
            {
                await FailAsync(DescribeFailure(failure), failure, token).ConfigureAwait(false);
            }
            else if (!token.IsCancellationRequested)
            {
                SetState(ElectionState.Lost, null, $"session {zk.State}");
                metrics.SessionLost();
            }
        }
    }

    /// <summary>Takes part with one session until it ends (expired, auth failed) or we stop.</summary>
    private async Task ParticipateAsync(ZooKeeperClient zk, CancellationToken token)
    {
        var membership = new Membership();
        while (!token.IsCancellationRequested && !zk.State.IsTerminal())
        {
            var signal = NewSignal();
            Volatile.Write(ref wake, signal); // from here on, any event re-runs the evaluation
            try
            {
                if (zk.State == ConnectionState.Connected)
                {
                    if (IsResignRequested())
                    {
                        await LeaveAsync(zk, membership, token).ConfigureAwait(false);
                    }
                    else
                    {
                        membership.Node ??= await JoinAsync(zk, membership, token).ConfigureAwait(false);
                        Znode = membership.Node;
                        if (!await EvaluateAsync(zk, membership, token).ConfigureAwait(false))
                        {
                            membership.Renew(); // our node is gone: rejoin with a new one
                            continue;
                        }
                    }
                }

                await signal.Task.WaitAsync(token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code is ErrorCode.ConnectionLoss or ErrorCode.OperationTimeout)
            {
                // The state callback has already suspended any lease. Look again at the next event (a reconnect, or expiry),
                // or after a pause: a request can time out while the connection stays up, and then no event comes.
                await WaitQuietlyAsync(signal.Task, options.RetryDelay, token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested || zk.State.IsTerminal())
            {
                return; // stopping, or the session is over (expired, closed, credentials refused): the caller starts another
            }
#pragma warning disable CA1031 // Any other error is reported and retried in this session: only disposal ends the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                RevokeLease("in doubt after an error");
                await FailAsync(DescribeFailure(ex), ex, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One look at the election; grants or withdraws the lease. False when our node no longer exists.</summary>
    private async Task<bool> EvaluateAsync(ZooKeeperClient zk, Membership membership, CancellationToken token)
    {
        var ours = membership.Node!;
        ChildrenResult children;
        try
        {
            children = await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            RevokeLease("the election path was deleted");
            return false;
        }

        // Generation and children come from one reply, so they describe the same incarnation of the election path.
        var generation = children.Stat.Czxid;
        NoteListing(generation, children.Children);
        var sorted = Sorted(children.Children).Where(c => !IsForeign(c.Name)).ToList();
        foreach (var (name, _) in sorted.Where(c => c.Name != ours && membership.Created(c.Name)).ToList())
        {
            await DeleteOrphanAsync(zk, name, token).ConfigureAwait(false);
            sorted.RemoveAll(c => c.Name == name);
        }

        var index = sorted.FindIndex(c => c.Name == ours);
        if (Interlocked.Exchange(ref releasedLeader, null) is { } released)
        {
            if (index > 0 && sorted[0].Name == released)
            {
                await DeleteOnSignalAsync(zk, released, new FencingToken(generation, sorted[0].Sequence), token).ConfigureAwait(false);
            }

            // Deleted by us, by another standby, or gone by itself: look again on a fresh listing, and wait on whoever
            // leads then (the finished wait is forgotten, so the same leader, still there, is waited on anew).
            if (watch?.Node == released)
            {
                StopWatching();
            }

            Signal();
            return true;
        }

        if (index < 0)
        {
            StopHolding();
            RevokeLease("our election node was deleted");
            logger.LogWarning("Election node {Node} of {NodeId} is gone; rejoining", ours, options.NodeId);
            return false;
        }

        // From our predecessor down, the first ephemeral node is the candidate we wait for. A node named like one that is
        // not ephemeral (anyone may create one where the path's ACL is open) is foreign: it must not block the election.
        for (var i = index - 1; i >= 0; i--)
        {
            var predecessor = sorted[i].Name;

            // getData, not exists: on a node that is already gone it sets no watch (exists would, and that watch would
            // never fire, since sequential names never come back, yet be re-sent on every reconnect).
            DataResult data;
            try
            {
                data = await zk.GetDataAsync(PathRules.Combine(options.ElectionPath, predecessor), wakeWatcher, token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
                Signal(); // it left between the listing and the watch: look again
                return true;
            }

            if (!ElectionNode.IsEphemeralOwner(data.Stat.EphemeralOwner))
            {
                MarkForeign(predecessor);
                continue;
            }

            if (data.Stat.EphemeralOwner == zk.SessionId)
            {
                await DeleteOrphanAsync(zk, predecessor, token).ConfigureAwait(false); // ours, yet not our node: it would block us for good
                Signal();
                return true;
            }

            RevokeLease("not the lowest live node");
            StopHolding();
            var leader = sorted[0];
            awaitedLeader = (leader.Name, i == 0 ? CandidateInfo.TryParse(data.Data)?.NodeId : awaitedLeader?.Name == leader.Name ? awaitedLeader?.NodeId : null);
            if (options.CrashSignal is not null && i > 0 && !await WatchNodeAsync(zk, leader.Name, token).ConfigureAwait(false))
            {
                Signal(); // the leader left between the listing and the watch: look again
                return true;
            }

            WatchLeader(leader.Name, new FencingToken(generation, leader.Sequence));
            if (State != ElectionState.Candidate)
            {
                SetState(ElectionState.Candidate, null, $"waiting behind {predecessor}");
            }

            return true;
        }

        var stat = await zk.ExistsAsync(PathRules.Combine(options.ElectionPath, ours), wakeWatcher, token).ConfigureAwait(false); // also watches our own deletion
        if (stat is null || stat.Value.EphemeralOwner != zk.SessionId)
        {
            StopHolding();
            RevokeLease("our election node is not owned by our session");
            return false;
        }

        StopWatching();
        var fencingToken = new FencingToken(generation, sorted[index].Sequence);
        StartHolding(fencingToken); // before the grant: a standby waits on it only once our node is the lowest
        if (Grant(zk, fencingToken, ours) is { } granted)
        {
            await NoteSuccessionAsync(zk, granted, token).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Deletes a node of our session that is not our node (a create whose reply was lost, applied after all).</summary>
    private async Task DeleteOrphanAsync(ZooKeeperClient zk, string name, CancellationToken token)
    {
        try
        {
            await zk.DeleteAsync(PathRules.Combine(options.ElectionPath, name), -1, token).ConfigureAwait(false);
            logger.LogWarning("Deleted election node {Node} of {NodeId}'s session: not its current node, it would have blocked the election", name, options.NodeId);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
        }
    }

    /// <summary>Grants a lease under <paramref name="token"/> unless one holds already; the new lease, or null.</summary>
    private LeadershipLease? Grant(ZooKeeperClient zk, FencingToken token, string znode)
    {
        var current = lease;
        if (current is { IsRevoked: false } && current.Token == token)
        {
            return null; // still leading under the same lease
        }

        var granted = new LeadershipLease(token, options.NodeId, znode);
        Interlocked.Exchange(ref lease, granted);

        // The connection may have dropped since the reply that led here. The state callback revokes whatever lease it finds,
        // and the client's state is set before that callback runs: checking the state after publishing the lease closes
        // the gap in both orders.
        if (zk.State != ConnectionState.Connected)
        {
            RevokeLease($"ZooKeeper {zk.State} while granting");
            return null;
        }

        logger.LogInformation("{NodeId} leads with token {Token} (node {Node})", options.NodeId, token, znode);
        metrics.LeaseGranted(granted);
        SetState(ElectionState.Leader, granted, "lowest live node, owned by our session");
        return granted;
    }

    /// <summary>Creates our protected node, or finds the one an earlier attempt created before its reply was lost. A create
    /// is never repeated before the lookup for its guid has answered, however many attempts in between fail.</summary>
    private async Task<string> JoinAsync(ZooKeeperClient zk, Membership membership, CancellationToken token)
    {
        var prefix = membership.Prefix;
        while (true)
        {
            if (membership.LookupPending && await FindByPrefixAsync(zk, prefix, token).ConfigureAwait(false) is { } found)
            {
                membership.LookupPending = false;
                logger.LogInformation("Found our election node {Node} after a lost create reply", found);
                SetState(ElectionState.Candidate, null, $"joined as {found} (found by guid)");
                return found;
            }

            membership.LookupPending = true; // until the create's reply arrives, it may be applied without our knowing
            try
            {
                var created = await zk.CreateAsync(PathRules.Combine(options.ElectionPath, prefix), info.ToJson(), options.NodeAcl(), CreateMode.EphemeralSequential, token).ConfigureAwait(false);
                membership.LookupPending = false;
                var name = created.Path[(created.Path.LastIndexOf('/') + 1)..];
                SetState(ElectionState.Candidate, null, $"joined as {name}");
                return name;
            }
            catch (KeeperException ex) when (!ex.OutcomeUnknown)
            {
                membership.LookupPending = false; // the server answered: nothing was created
                if (ex.Code != ErrorCode.NoNode)
                {
                    throw;
                }

                await zk.EnsurePathAsync(options.ElectionPath, options.NodeAcl(), token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Our node by its guid, or null once the server has said there is none.</summary>
    private async Task<string?> FindByPrefixAsync(ZooKeeperClient zk, string prefix, CancellationToken token)
    {
        try
        {
            // The server we reach now may lag behind the one that took the create: catch up with the leader first.
            await zk.SyncAsync(options.ElectionPath, token).ConfigureAwait(false);
            var children = await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false);
            return children.Children.FirstOrDefault(c => c.StartsWith(prefix, StringComparison.Ordinal));
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            return null; // no election path, so no node of ours
        }
    }

    /// <summary>Deletes our node, and any other of our session's, and stays out until <see cref="Rejoin"/>. Runs again on
    /// every wake-up while we stay out, so a node of ours that turns up late is removed too.</summary>
    private async Task LeaveAsync(ZooKeeperClient zk, Membership membership, CancellationToken token)
    {
        RevokeLease("resigned");
        IReadOnlyList<string> children;
        try
        {
            children = (await zk.GetChildrenAsync(options.ElectionPath, null, token).ConfigureAwait(false)).Children;
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            children = [];
        }

        if (membership.Node is { } node && node == ledNode && children.Contains(node))
        {
            await WriteMarkerAsync(zk, node, "graceful", token).ConfigureAwait(false); // the leader resigns: a successor should know
        }

        foreach (var name in children.Where(membership.Created))
        {
            try
            {
                await zk.DeleteAsync(PathRules.Combine(options.ElectionPath, name), -1, token).ConfigureAwait(false);
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
            }

            logger.LogInformation("{NodeId} resigned; node {Node} deleted", options.NodeId, name);
        }

        StopHolding();
        StopWatching();
        ledNode = null;
        if (membership.Node is not null || membership.LookupPending)
        {
            membership.Renew(); // the next node gets a new guid; the old ones stay ours, in case one turns up late
        }

        Znode = null;
        SetState(ElectionState.Idle, null, "resigned");
        lock (gate)
        {
            resigned?.TrySetResult();
        }
    }

    private bool IsResignRequested()
    {
        lock (gate)
        {
            return resignRequested;
        }
    }

    /// <summary>Waits for <paramref name="signal"/>, at most <paramref name="limit"/> or until stopped; never throws.</summary>
    private static async Task WaitQuietlyAsync(Task signal, TimeSpan limit, CancellationToken token)
    {
        try
        {
            await signal.WaitAsync(limit, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }
    }
}
