using System.CommandLine;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
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
    public static Command Command(string[] settings)
    {
        var confirm = CliOptions.Flag("--confirm", "apply the move (without it: show the plan, write nothing, exit 2)");
        var reason = CliOptions.Text("--reason", "why, for the audit row in fence_resets (required with --confirm)", "TEXT");
        var operatorName = CliOptions.Text("--operator", "who, for the audit row (default: the user name)", "NAME");
        var command = Verbs.Verb("fence-reset", "Move a fence left ahead of the election (ensemble rebuilt, election path moved) to the current " +
                                                "election's start, as the owner role; audited. Exit 2 when nothing was written (no --confirm).");
        command.Options.Add(confirm);
        command.Options.Add(reason);
        command.Options.Add(operatorName);
        command.Validators.Add(result =>
        {
            if (result.GetValue(confirm) && string.IsNullOrWhiteSpace(result.GetValue(reason)))
            {
                result.AddError("--reason TEXT is required with --confirm: it goes into the audit row.");
            }
        });
        command.SetAction((parse, cancellationToken) => RunAsync(settings, parse.GetValue(confirm), parse.GetValue(reason) ?? "",
            parse.GetValue(operatorName) ?? Environment.UserName, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] settings, bool confirm, string reason, string operatorName, CancellationToken cancellationToken)
    {
        var configuration = Verbs.Configuration(settings);
        var zk = configuration.GetSection(ZooKeeperOptions.Section).Get<ZooKeeperOptions>() ?? new ZooKeeperOptions();
        var resource = configuration.GetSection("Commit").Get<FencedCommitterOptions>()?.Resource ?? new FencedCommitterOptions().Resource;
        var owner = configuration.InventoryOwnerConnectionString();
        await Reachability.PostgresAsync(owner, Verbs.OwnerSetting(configuration), cancellationToken);
        var target = await ElectionAsync(zk, cancellationToken).ConfigureAwait(false);
        await using var dataSource = InventoryDataSource.Create(owner);
        var administration = new FenceAdministration(dataSource);
        var fence = await administration.ReadAsync(resource, cancellationToken).ConfigureAwait(false);
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
        if (!confirm)
        {
            Console.Error.WriteLine("fence-reset: nothing written; run again with --confirm --reason TEXT to apply.");
            return 2;
        }

        if (!await administration.ResetAsync(resource, fence.Token, start, operatorName, reason, CancellationToken.None).ConfigureAwait(false))
        {
            var now = await administration.ReadAsync(resource, cancellationToken).ConfigureAwait(false);
            Console.Error.WriteLine($"fence-reset: refused: the fence changed meanwhile (now {now.Token}, held by {now.Holder}); nothing written.");
            return 1;
        }

        Console.WriteLine($"fence {resource} moved from {fence.Token} to {start} by {operatorName}; audited in fence_resets.");
        return 0;
    }

    /// <summary>The election's generation (its path's czxid, from the same reply as the children) and how many candidates stand.</summary>
    private static async Task<(long Generation, int Candidates)> ElectionAsync(ZooKeeperOptions zk, CancellationToken cancellationToken)
    {
        await using var client = await Reachability.ZooKeeperAsync(zk, cancellationToken).ConfigureAwait(false);
        try
        {
            var children = await client.GetChildrenAsync(zk.ElectionPath, cancellationToken: cancellationToken).ConfigureAwait(false);
            return (children.Stat.Czxid, ElectionCandidate.Sorted(children.Children).Count());
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            throw new InvalidOperationException($"The election path {zk.ElectionPath} does not exist: start the replicas first, then reset the fence to their election.", ex);
        }
    }
}
