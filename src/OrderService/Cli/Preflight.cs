using Microsoft.Extensions.Configuration;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;

namespace Pipeline.OrderService.Cli;

/// <summary>Before a replica starts: reach each service once, so a wrong setting fails fast, names itself and exits non-zero
/// instead of a replica that retries forever in silence.</summary>
public static class Preflight
{
    public static async Task CheckAsync(IConfiguration configuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        await Reachability.PostgresAsync(configuration.InventoryConnectionString(), "ConnectionStrings:Inventory", cancellationToken);

        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        var pipeline = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            await Topology.DeclareCommitQueueAsync(rabbit, pipeline.QuorumQueues, timeout.Token);
        }
        catch (Exception ex) when ((Reachability.IsRabbitMqFailure(ex) || ex is OperationCanceledException) && !cancellationToken.IsCancellationRequested)
        {
            throw new CliFailureException($"RabbitMQ at {Reachability.RabbitMqPlace(rabbit)} is not usable: {Reachability.OneLine(ex)}", ex);
        }

        var zk = configuration.GetSection(ZooKeeperOptions.Section).Get<ZooKeeperOptions>() ?? new ZooKeeperOptions();
        if (zk.IdentityProblem() is { } problem)
        {
            throw new CliFailureException(problem);
        }

        await using var client = await Reachability.ZooKeeperAsync(zk, cancellationToken);
    }
}
