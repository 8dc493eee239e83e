using MassTransit;
using MassTransit.Middleware;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Messaging;

/// <summary>Topology, retry and endpoints, configured in one place.</summary>
public static class MessagingSetup
{
    /// <summary>A send the broker must route: unroutable (no queue bound to the exchange), RabbitMQ returns it and the send
    /// fails with <see cref="MessageReturnedException"/> instead of the command being dropped.</summary>
    public static readonly IPipe<SendContext> Mandatory = Pipe.Execute<SendContext>(SetMandatory);

    /// <summary>What <see cref="Mandatory"/> does, for a send that sets more than that.</summary>
    public static void SetMandatory(SendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit))
        {
            rabbit.Mandatory = true;
        }
    }

    public static IServiceCollection AddPipelineMessaging(this IServiceCollection services, RabbitMqOptions rabbit, PipelineOptions pipeline)
    {
        services.AddMassTransit(x =>
        {
            // MassTransit 8.5 reports usage to its vendor from every bus; nothing of this service phones home.
            x.DisableUsageTelemetry();
            x.AddConsumer<OrderIntakeConsumer>(c => c.Options<BatchOptions>(b => b
                .SetMessageLimit(pipeline.IntakeBatchSize)
                .SetTimeLimit(pipeline.IntakeBatchTimeLimit)
                .SetConcurrencyLimit(pipeline.IntakeBatchConcurrency)));

            // The commit consumers are registered but not configured on any endpoint: only the leader connects them, at runtime.
            x.AddConsumer<CommitInventoryBatchConsumer>().ExcludeFromConfigureEndpoints();
            x.AddConsumer<CommitInventoryConsumer>().ExcludeFromConfigureEndpoints();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.ConfigureHost(rabbit);
                cfg.ReceiveEndpoint(Topology.IntakeQueue, e =>
                {
                    // No Fault<OrderSubmitted> events: a delivery retried through a database outage is no failed order (a
                    // storefront must not read it as one), and what is parked in order-intake_error carries its fault headers.
                    e.PublishFaults = false;
                    // Every batch in flight full, and as many messages waiting to fill the next ones.
                    e.ConcurrentMessageLimit = pipeline.IntakeBatchSize * pipeline.IntakeBatchConcurrency;
                    e.PrefetchCount = pipeline.IntakeBatchSize * pipeline.IntakeBatchConcurrency * 2;
                    if (pipeline.QuorumQueues)
                    {
                        e.SetQuorumQueue();
                    }

                    // A database outage longer than the retries is not the order's fault either: requeue, never park it. The
                    // retry wraps the batch consumer: a failed batch is retried whole (its record is idempotent).
                    UseRequeueWhenNotTheMessagesFault(e);
                    e.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200)));
                    e.ConfigureConsumer<OrderIntakeConsumer>(context);
                });
            });
        });
        return services;
    }

    /// <summary>The leader's inventory-commit endpoint: intake batches (and the odd order split off one) in flight and
    /// prefetched enough to keep two commit transactions of CommitBatchSize orders busy, so committing and publishing overlap:
    /// the next transaction fills while the orders of the last one publish their decisions (the <see cref="CommitBatcher"/>
    /// still commits one transaction at a time). Retries only for transient database errors.</summary>
    /// <param name="warmUp">The standby's warm-up copy (<see cref="CommitPathWarmUp"/>): a temporary queue
    /// (transient, auto-delete, never quorum) without the message-type bindings, so nothing but the warm-up reaches it.</param>
    public static void ConfigureCommitEndpoint(IBusRegistrationContext context, IReceiveEndpointConfigurator cfg, PipelineOptions pipeline, bool warmUp = false)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        if (cfg is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.PrefetchCount = CommitDeliveriesInFlight(pipeline) * 2;
            if (warmUp)
            {
                rabbit.AutoDelete = true;
                rabbit.Durable = false;
            }
            else if (pipeline.QuorumQueues)
            {
                rabbit.SetQuorumQueue();
            }
        }

        cfg.ConfigureConsumeTopology = !warmUp;

        // No Fault<CommitInventory> event per failed delivery: each would be a confirmed publish that the delivery waits for
        // before it can go back to the queue, hundreds at once when a leadership ends with a full prefetch, and nobody
        // consumes them (a parked command carries its fault headers in inventory-commit_error).
        cfg.PublishFaults = false;

        cfg.ConcurrentMessageLimit = CommitDeliveriesInFlight(pipeline);

        // Leadership lost mid-batch is not the messages' fault: requeue them (the transport nacks what the error pipe rethrows).
        UseRequeueWhenNotTheMessagesFault(cfg);
        cfg.UseMessageRetry(r =>
        {
            r.Ignore<StaleLeaderException>();
            r.Ignore<LeadershipLostException>();
            r.Ignore<InvalidDataException>();
            r.Exponential(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200));
        });
        cfg.ConfigureConsumer<CommitInventoryBatchConsumer>(context);
        cfg.ConfigureConsumer<CommitInventoryConsumer>(context);
    }

    /// <summary>Commit deliveries handled at once: a transaction's worth of single-order deliveries, so a batch can still fill
    /// when each intake batch carries one order (light load spread over replicas) and each transaction is slow (a loaded
    /// database): with half that, a leader whose transactions took a second committed 50 orders a second.</summary>
    private static int CommitDeliveriesInFlight(PipelineOptions pipeline) => Math.Max(32, pipeline.CommitBatchSize);

    /// <summary>The error pipe of an endpoint: <see cref="RequeueWhenNotTheMessagesFaultFilter"/>, then MassTransit's default
    /// (a Fault event and the _error queue) for faults that are the message's own.</summary>
    private static void UseRequeueWhenNotTheMessagesFault(IReceiveEndpointConfigurator endpoint) =>
        endpoint.ConfigureError(x =>
        {
            x.UseFilter(new RequeueWhenNotTheMessagesFaultFilter());
            x.UseFilter(new GenerateFaultFilter());
            x.UseFilter(new ErrorTransportFilter());
        });
}
