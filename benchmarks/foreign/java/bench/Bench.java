package bench;

import javax.activation.DataHandler;
import javax.jws.WebMethod;
import javax.jws.WebParam;
import javax.jws.WebResult;
import javax.jws.WebService;
import javax.jws.soap.SOAPBinding;
import javax.xml.bind.annotation.XmlMimeType;
import javax.xml.ws.RequestWrapper;
import javax.xml.ws.ResponseWrapper;

/** The benchmark's one operation (benchmarks/bench.wsdl): Upload(name, data) -> received. */
@WebService(name = "BenchPortType", targetNamespace = Bench.NS)
@SOAPBinding(style = SOAPBinding.Style.DOCUMENT, use = SOAPBinding.Use.LITERAL,
        parameterStyle = SOAPBinding.ParameterStyle.WRAPPED)
public interface Bench {
    String NS = "urn:asyncmtom:bench";

    @WebMethod(operationName = "Upload", action = "urn:asyncmtom:bench:Upload")
    @WebResult(name = "received", targetNamespace = NS)
    @RequestWrapper(localName = "Upload", targetNamespace = NS, className = "bench.Upload")
    @ResponseWrapper(localName = "UploadResponse", targetNamespace = NS,
            className = "bench.UploadResponse")
    long upload(@WebParam(name = "name", targetNamespace = NS) String name,
            @WebParam(name = "data", targetNamespace = NS)
            @XmlMimeType("application/octet-stream") DataHandler data);
}
