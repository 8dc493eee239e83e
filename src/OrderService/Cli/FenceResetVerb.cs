using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Cli;

/// <summary>
/// The <c>fence-reset</c> verb: moves a fence that holds a token above everything the election can give (the ZooKeeper
/// ensemble rebuilt from empty data, the election path moved) down to the start of the current election, (its generation, 0),
/// so the next leader of this election takes it and commits flow again.
/// It is the one operation that lowers the fence, so it is guarded: it refuses unless the fence is ahead of the election,
/// shows what it would do and applies it only with <c>--confirm</c>, moves the fence only if it still holds what was shown,
/// and audits the move (operator, reason, both tokens) in fence_resets in the same statement. It runs as the schema's owner
/// (<c>ConnectionStrings:InventoryOwner</c>): the service role cannot move the fence but through <c>fence_bump</c>. The operator must first make
/// sure no replica of the old election runs: a paused one could still commit with its old token after the reset.
/// </summary>
internal static class FenceResetVerb
{
    public static async Task<int> RunAsync(CommandLine options, string[] args)
    {
        var configuration = Verbs.Configuration(args);
        var zk = configuration.GetSection(ZooKeeperOptions.Section).Get<ZooKeeperOptions>() ?? new ZooKeeperOptions();
        var resource = configuration.GetSection("Commit").Get<FencedCommitterOptions>()?.Resource ?? new FencedCommitterOptions().Resource;
        var reason = options.GetString("reason") ?? "";
        var operatorName = options.GetString("operator") ?? Environment.UserName;
        if (options.Has("confirm") && string.IsNullOrWhiteSpace(reason))
        {
            throw new ArgumentException("--reason TEXT is required with --confirm: it goes into the audit row.");
        }

        var target = await ElectionAsync(zk).ConfigureAwait(false);
        await using var dataSource = InventoryDataSource.Create(configuration.InventoryOwnerConnectionString());
        var administration = new FenceAdministration(dataSource);
        var fence = await administration.ReadAsync(resource).ConfigureAwait(false);
        Console.WriteLine($"fence {resource}: token {fence.Token}, held by {fence.Holder}, since {fence.UpdatedAt:u}");
        Console.WriteLine($"election {zk.ElectionPath}: generation {target.Generation}, {target.Candidates} candidate(s) standing");
        var start = new FenceToken(target.Generation, 0);
        if (fence.Token.Generation <= target.Generation)
        {
            Console.Error.WriteLine($"fence-reset: refused: the fence ({fence.Token}) is not ahead of the election (generation {target.Generation}); its candidates reach it as they are.");
            return 1;
        }

        Console.WriteLine($"plan: move the fence from {fence.Token} to {start}, the start of the current election.");
        Console.WriteLine("Before applying, stop every replica that led under the old election: a paused one could commit with its old token after the reset.");
        if (!options.Has("confirm"))
        {
            Console.Error.WriteLine("fence-reset: nothing written; run again with --confirm --reason TEXT to apply.");
            return 2;
        }

        if (!await administration.ResetAsync(resource, fence.Token, start, operatorName, reason).ConfigureAwait(false))
        {
            var now = await administration.ReadAsync(resource).ConfigureAwait(false);
            Console.Error.WriteLine($"fence-reset: refused: the fence changed meanwhile (now {now.Token}, held by {now.Holder}); nothing written.");
            return 1;
        }

        Console.WriteLine($"fence {resource} moved from {fence.Token} to {start} by {operatorName}; audited in fence_resets.");
        return 0;
    }

    /// <summary>The election's generation (its path's czxid, from the same reply as the children) and how many candidates stand.</summary>
    private static async Task<(long Generation, int Candidates)> ElectionAsync(ZooKeeperOptions zk)
    {
        var clientOptions = new ZooKeeperClientOptions { ConnectString = zk.ConnectString, SessionTimeout = zk.SessionTimeout };
        if (!string.IsNullOrEmpty(zk.DigestUser))
        {
            clientOptions.Credentials.Add(new DigestCredential(zk.DigestUser, zk.DigestPassword ?? ""));
        }

        await using var client = await ZooKeeperClient.ConnectAsync(clientOptions).ConfigureAwait(false);
        try
        {
            var children = await client.GetChildrenAsync(zk.ElectionPath).ConfigureAwait(false);
            return (children.Stat.Czxid, ElectionCandidate.Sorted(children.Children).Count());
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            throw new InvalidOperationException($"The election path {zk.ElectionPath} does not exist: start the replicas first, then reset the fence to their election.", ex);
        }
    }
}
