using MassTransit;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Messaging;

/// <summary>Topology, retry and endpoints, configured in one place.</summary>
public static class MessagingSetup
{
    public static IServiceCollection AddPipelineMessaging(this IServiceCollection services, RabbitMqOptions rabbit, PipelineOptions pipeline)
    {
        services.AddMassTransit(x =>
        {
            x.AddConsumer<OrderSubmittedConsumer>();

            // The commit consumer is registered but not configured on any endpoint: only the leader connects it, at runtime.
            x.AddConsumer<CommitInventoryConsumer>().ExcludeFromConfigureEndpoints();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, h =>
                {
                    h.Username(rabbit.Username);
                    h.Password(rabbit.Password);
                    h.PublisherConfirmation = true;
                });
                cfg.ReceiveEndpoint(Topology.IntakeQueue, e =>
                {
                    e.PrefetchCount = pipeline.IntakeConcurrency * 2;
                    e.ConcurrentMessageLimit = pipeline.IntakeConcurrency;
                    if (pipeline.QuorumQueues)
                    {
                        e.SetQuorumQueue();
                    }

                    e.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200)));
                    e.ConfigureConsumer<OrderSubmittedConsumer>(context);
                });
            });
        });
        return services;
    }

    /// <summary>The leader's inventory-commit endpoint: one batch at a time (the fence serializes commits anyway), prefetch
    /// twice the batch, retries only for transient database errors.</summary>
    public static void ConfigureCommitEndpoint(IBusRegistrationContext context, IReceiveEndpointConfigurator cfg, PipelineOptions pipeline)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        if (cfg is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.PrefetchCount = pipeline.CommitBatchSize * 2;
            if (pipeline.QuorumQueues)
            {
                rabbit.SetQuorumQueue();
            }
        }

        cfg.ConcurrentMessageLimit = pipeline.CommitBatchSize;
        cfg.UseMessageRetry(r =>
        {
            r.Ignore<StaleLeaderException>();
            r.Ignore<OperationCanceledException>();
            r.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200));
        });
        cfg.ConfigureConsumer<CommitInventoryConsumer>(context, c => c.Options<BatchOptions>(o => o
            .SetMessageLimit(pipeline.CommitBatchSize)
            .SetTimeLimit(pipeline.CommitBatchTimeLimit)
            .SetConcurrencyLimit(1)));
    }
}
