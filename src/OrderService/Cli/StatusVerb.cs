using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Status;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Telemetry;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;
using Spectre.Console;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>status</c> verb: the election as ZooKeeper holds it, queue depths, orders by status and the fences, as
/// tables or as one JSON document.</summary>
internal static class StatusVerb
{
    public static Command Command(string[] settings)
    {
        var json = CliOptions.Json();
        var command = Verbs.Verb("status", "Who leads with which token, the candidates, queue depths, orders by status and the fences.");
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var document = await ReadAsync(Verbs.Configuration(settings), cancellationToken);
            if (parse.GetValue(json))
            {
                CliJson.Write(document);
            }
            else
            {
                Print(document);
            }

            return 0;
        });
        return command;
    }

    private static async Task<StatusDocument> ReadAsync(IConfiguration configuration, CancellationToken cancellationToken)
    {
        var zk = configuration.GetSection(ZooKeeperOptions.Section).Get<ZooKeeperOptions>() ?? new ZooKeeperOptions();
        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        var connectionString = configuration.InventoryConnectionString();
        await Reachability.PostgresAsync(connectionString, "ConnectionStrings:Inventory", cancellationToken);
        await Reachability.RabbitMqAsync(rabbit, cancellationToken);

        var election = await ReadElectionAsync(zk, cancellationToken);
        var queues = await ReadQueuesAsync(rabbit, cancellationToken);
        await using var dataSource = InventoryDataSource.Create(connectionString);
        var database = await new InventoryStatusReader(dataSource).ReadAsync(cancellationToken);
        return new StatusDocument(election, queues, new DatabaseDocument(database.OrdersByStatus,
            [.. database.Fences.Select(f => new FenceDocument(f.Resource, new TokenDocument(f.Token.Generation, f.Token.Sequence), f.Holder, f.UpdatedAt))]));
    }

    private static async Task<ElectionDocument> ReadElectionAsync(ZooKeeperOptions zk, CancellationToken cancellationToken)
    {
        await using var client = await Reachability.ZooKeeperAsync(zk, cancellationToken);
        try
        {
            var children = await client.GetChildrenAsync(zk.ElectionPath, cancellationToken: cancellationToken);
            var candidates = new List<CandidateDocument>();
            foreach (var (name, sequence) in ElectionCandidate.Sorted(children.Children))
            {
                var data = await client.GetDataAsync($"{zk.ElectionPath}/{name}", cancellationToken: cancellationToken);
                using var info = System.Text.Json.JsonDocument.Parse(data.Data);
                candidates.Add(new CandidateDocument(info.RootElement.GetProperty("nodeId").GetString() ?? "", candidates.Count == 0,
                    new TokenDocument(children.Stat.Czxid, sequence), string.Create(CultureInfo.InvariantCulture, $"0x{data.Stat.EphemeralOwner:x}")));
            }

            return new ElectionDocument(zk.ElectionPath, true, candidates.FirstOrDefault()?.NodeId, candidates);
        }
        catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
        {
            return new ElectionDocument(zk.ElectionPath, false, null, []);
        }
    }

    private static async Task<IReadOnlyList<QueueDocument>> ReadQueuesAsync(RabbitMqOptions rabbit, CancellationToken cancellationToken)
    {
        await using var connection = await RabbitMqConnection.Factory(rabbit, "pipeline-status").CreateConnectionAsync(cancellationToken);
        return [.. (await QueueDepths.ReadAsync(connection, cancellationToken)).Select(q => new QueueDocument(q.Queue, q.Exists, q.Messages, q.Consumers))];
    }

    private static void Print(StatusDocument status)
    {
        var console = CliConsole.Out;
        var election = new Table().Title(Markup.Escape($"election {status.Election.Path}")).AddColumns("role", "node", "token", "session");
        foreach (var candidate in status.Election.Candidates)
        {
            election.AddRow(candidate.Leader ? new Markup("[green bold]LEADER[/]") : new Text("candidate"), new Text(candidate.NodeId),
                new Text(candidate.Token.ToString()), new Text(candidate.Session));
        }

        if (status.Election.Candidates.Count == 0)
        {
            election.AddRow(new Markup("[yellow]none[/]"), new Text(status.Election.Exists ? "(no candidates)" : "(no election yet)"), Text.Empty, Text.Empty);
        }

        var queues = new Table().Title("queues").AddColumns("queue", "ready", "consumers");
        foreach (var queue in status.Queues)
        {
            queues.AddRow(new Text(queue.Name), new Text(queue.Exists ? queue.Ready.ToString(CultureInfo.InvariantCulture) : "(absent)"),
                new Text(queue.Consumers.ToString(CultureInfo.InvariantCulture)));
        }

        var orders = new Table().Title("orders").AddColumns("status", "count");
        foreach (var (name, count) in status.Database.OrdersByStatus)
        {
            orders.AddRow(name, count.ToString(CultureInfo.InvariantCulture));
        }

        var fences = new Table().Title("fences").AddColumns("resource", "token", "holder", "since");
        foreach (var fence in status.Database.Fences)
        {
            fences.AddRow(new Text(fence.Resource), new Text(fence.Token.ToString()), new Text(fence.Holder), new Text(fence.UpdatedAt.ToString("u", CultureInfo.InvariantCulture)));
        }

        console.Write(election);
        console.Write(queues);
        console.Write(orders);
        console.Write(fences);
    }

    /// <summary><c>status --json</c>.</summary>
    private sealed record StatusDocument(ElectionDocument Election, IReadOnlyList<QueueDocument> Queues, DatabaseDocument Database);

    private sealed record ElectionDocument(string Path, bool Exists, string? Leader, IReadOnlyList<CandidateDocument> Candidates);

    private sealed record CandidateDocument(string NodeId, bool Leader, TokenDocument Token, string Session);

    private sealed record TokenDocument(long Generation, long Sequence)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Generation}:{Sequence}");
    }

    private sealed record QueueDocument(string Name, bool Exists, long Ready, long Consumers);

    private sealed record DatabaseDocument(IReadOnlyDictionary<string, long> OrdersByStatus, IReadOnlyList<FenceDocument> Fences);

    private sealed record FenceDocument(string Resource, TokenDocument Token, string Holder, DateTimeOffset UpdatedAt);
}
