using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Status;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;
using RabbitMQ.Client;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>status</c> verb: the election as ZooKeeper holds it, the fence, queue depths and decided counts.</summary>
internal static class StatusVerb
{
    public static async Task<int> RunAsync(CommandLine options, string[] args)
    {
        var configuration = Verbs.Configuration(args);
        var zkOptions = configuration.GetSection(ZooKeeperOptions.Section).Get<ZooKeeperOptions>() ?? new ZooKeeperOptions();
        await using (var zk = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = zkOptions.ConnectString, SessionTimeout = zkOptions.SessionTimeout }))
        {
            Console.WriteLine($"election {zkOptions.ElectionPath}:");
            try
            {
                var children = await zk.GetChildrenAsync(zkOptions.ElectionPath);
                var first = true;
                foreach (var (name, sequence) in ElectionCandidate.Sorted(children.Children))
                {
                    var data = await zk.GetDataAsync($"{zkOptions.ElectionPath}/{name}");
                    var info = System.Text.Json.JsonDocument.Parse(data.Data).RootElement;
                    Console.WriteLine($"  {(first ? "LEADER   " : "candidate")} {info.GetProperty("nodeId").GetString(),-28} token {children.Stat.Czxid}:{sequence}  session 0x{data.Stat.EphemeralOwner:x}");
                    first = false;
                }

                if (first)
                {
                    Console.WriteLine("  (no candidates)");
                }
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
                Console.WriteLine("  (no election yet)");
            }
        }

        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        var factory = RabbitMqConnection.Factory(rabbit, "pipeline-status");
        await using (var connection = await factory.CreateConnectionAsync())
        {
            Console.WriteLine("queues:");
            foreach (var queue in new[] { Topology.IntakeQueue, Topology.CommitQueue, Topology.IntakeQueue + "_error", Topology.CommitQueue + "_error" })
            {
                await using var channel = await connection.CreateChannelAsync();
                try
                {
                    var ok = await channel.QueueDeclarePassiveAsync(queue);
                    Console.WriteLine($"  {queue,-24} {ok.MessageCount,8} ready  {ok.ConsumerCount,3} consumers");
                }
                catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
                {
                    Console.WriteLine($"  {queue,-24} (absent)");
                }
            }
        }

        await using var dataSource = InventoryDataSource.Create(configuration.InventoryConnectionString());
        var database = await new InventoryStatusReader(dataSource).ReadAsync();
        Console.WriteLine("database:");
        foreach (var (status, count) in database.OrdersByStatus)
        {
            Console.WriteLine($"  {status,-10} {count,8}");
        }

        foreach (var fence in database.Fences)
        {
            Console.WriteLine($"  fence {fence.Resource} {fence.Token} held by {fence.Holder}");
        }

        return 0;
    }
}
