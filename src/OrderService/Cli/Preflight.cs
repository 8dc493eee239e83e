using Microsoft.Extensions.Configuration;
using Npgsql;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.OrderService.Cli;

/// <summary>Before a replica starts: reach each service once, so a wrong setting fails fast, names itself and exits non-zero
/// instead of a replica that retries forever in silence.</summary>
public static class Preflight
{
    public static async Task CheckAsync(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connectionString = configuration.InventoryConnectionString();
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Timeout = 10 }.ConnectionString);
            await connection.OpenAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or ArgumentException)
        {
            throw new InvalidOperationException($"ConnectionStrings:Inventory does not reach PostgreSQL: {ex.Message}", ex);
        }

        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        var pipeline = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await Topology.DeclareCommitQueueAsync(rabbit, pipeline.QuorumQueues, timeout.Token);
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.AuthenticationFailureException
                                       or RabbitMQ.Client.Exceptions.OperationInterruptedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException($"RabbitMq (Host {rabbit.Host}:{rabbit.Port}, VirtualHost {rabbit.VirtualHost}, Username {rabbit.Username}) is not usable: {ex.GetBaseException().Message}", ex);
        }

        var zk = configuration.GetSection(ZooKeeperOptions.Section).Get<ZooKeeperOptions>() ?? new ZooKeeperOptions();
        if (zk.IdentityProblem() is { } problem)
        {
            throw new InvalidOperationException(problem);
        }

        var client = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = zk.ConnectString, SessionTimeout = zk.SessionTimeout });
        await client.DisposeAsync();
    }
}
