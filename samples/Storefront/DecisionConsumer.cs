using System.Globalization;
using MassTransit;
using Pipeline.Contracts;

namespace Pipeline.Storefront;

/// <summary>Consumes the decision events from the storefront's own queue into the <see cref="DecisionLog"/> and prints the
/// first decision of each order of this run.</summary>
internal sealed class DecisionConsumer(DecisionLog log) : IConsumer<OrderConfirmed>, IConsumer<OrderRejected>, IConsumer<OrderIdConflict>
{
    public Task Consume(ConsumeContext<OrderConfirmed> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var confirmed = context.Message;
        if (log.Decide(confirmed.OrderId, confirmed))
        {
            Print($"confirmed {confirmed.OrderId}: committed by {confirmed.CommittedBy} under token {confirmed.Token} at {confirmed.CommittedAt.ToString("O", CultureInfo.InvariantCulture)}");
        }

        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<OrderRejected> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rejected = context.Message;
        if (log.Decide(rejected.OrderId, rejected))
        {
            Print($"rejected  {rejected.OrderId}: {rejected.Reason}{(rejected.Detail is null ? "" : $" ({rejected.Detail})")}");
        }

        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<OrderIdConflict> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var conflict = context.Message;
        if (log.Conflict(conflict))
        {
            Print($"CONFLICT  {conflict.OrderId}: not recorded, the id is taken by another order ({conflict.Detail})");
        }

        return Task.CompletedTask;
    }

    private static void Print(string line) => Console.Out.WriteLine(line);
}
