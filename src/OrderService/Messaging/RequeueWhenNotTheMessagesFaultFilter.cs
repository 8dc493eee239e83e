using MassTransit;

namespace Pipeline.OrderService.Messaging;

/// <summary>
/// In the error pipe of both endpoints: faults that are not the message's (leadership lost, the endpoint stopping, the
/// database unreachable after the retries) are rethrown, so the transport returns the message to the queue (basic.nack, requeue) instead of parking it
/// in the error queue, where the order would stay undecided. Every other fault goes on to the default fault event and
/// error queue. A short pause first keeps a replica that cannot commit from spinning on the same messages.
/// </summary>
public sealed class RequeueWhenNotTheMessagesFaultFilter : IFilter<ExceptionReceiveContext>
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(500);

    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (!IsNotTheMessagesFault(context.Exception))
        {
            await next.Send(context);
            return;
        }

        if (context.Exception is not LeadershipLostException)
        {
            await Task.Delay(Pause, CancellationToken.None);
        }

        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(context.Exception);
    }

    public void Probe(ProbeContext context) => context?.CreateFilterScope("requeueWhenNotTheMessagesFault");

    internal static bool IsNotTheMessagesFault(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case LeadershipLostException:
                // The endpoint or the host is stopping (leadership ended, SIGTERM) and cancelled the delivery's token: the
                // message goes back to the queue. Parked in _error, its order would stay undecided.
                case OperationCanceledException:
                case Npgsql.NpgsqlException { IsTransient: true }:
                case Npgsql.PostgresException { SqlState: "25P03" or "57P01" or "57P02" or "57P03" or "55P03" or "57014" or "40001" or "40P01" }:
                case Npgsql.NpgsqlException { InnerException: IOException or System.Net.Sockets.SocketException }:
                // The broker could not route a forward (the commit queue or its binding is missing): the topology's fault;
                // the order is recorded, and the delivery retried until the route is back (or the leader's re-drive decides it).
                case MessageReturnedException:
                    return true;
                case AggregateException aggregate when aggregate.InnerExceptions.Any(IsNotTheMessagesFault):
                    return true;
                default:
                    break;
            }
        }

        return false;
    }
}

/// <summary>The delivery was not committed because this replica does not (or no longer) lead. Never a fault of the message:
/// the commit endpoint's error pipe requeues it instead of moving it to the error queue.</summary>
public sealed class LeadershipLostException : Exception
{
    public LeadershipLostException()
    {
    }

    public LeadershipLostException(string message)
        : base(message)
    {
    }

    public LeadershipLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
