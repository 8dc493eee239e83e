namespace Pipeline.OrderService.Messaging;

/// <summary>An order message with no usable id: nothing can be recorded under it, so it goes to the error queue (no retries:
/// a retry cannot give it an id).</summary>
public sealed class UnusableOrderIdException : Exception
{
    public UnusableOrderIdException()
    {
    }

    public UnusableOrderIdException(string message)
        : base(message)
    {
    }

    public UnusableOrderIdException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
