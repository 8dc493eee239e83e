using System.Text.Json;
using Pipeline.Contracts;

namespace Pipeline.Contracts.Tests;

public sealed class ContractSerializationTests
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    [Fact]
    public void Order_submitted_survives_a_json_round_trip_with_every_line()
    {
        var order = new OrderSubmitted
        {
            OrderId = "o-1",
            CustomerId = "c-9",
            Lines = [new OrderLine { Sku = "SKU-1", Quantity = 2 }, new OrderLine { Sku = "SKU-2", Quantity = 1 }],
            SubmittedAt = new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero),
        };

        var back = JsonSerializer.Deserialize<OrderSubmitted>(JsonSerializer.Serialize(order, Web), Web)!;

        Assert.Equal(order.OrderId, back.OrderId);
        Assert.Equal(order.CustomerId, back.CustomerId);
        Assert.Equal(order.SubmittedAt, back.SubmittedAt);
        Assert.Equal(order.Lines, back.Lines);
    }

    [Fact]
    public void A_required_property_missing_from_the_wire_is_an_error_not_a_null()
    {
        var ex = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<OrderSubmitted>("""{"orderId":"o-1"}""", Web));
        Assert.Contains("customerId", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fencing_tokens_print_as_generation_and_epoch()
    {
        Assert.Equal("7:42", new FencingTokenInfo { Generation = 7, Sequence = 42 }.ToString());
    }
}
