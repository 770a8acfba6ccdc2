package interop;

import java.util.List;

import javax.activation.DataHandler;
import javax.jws.WebMethod;
import javax.jws.WebParam;
import javax.jws.WebResult;
import javax.jws.WebService;
import javax.jws.soap.SOAPBinding;
import javax.xml.bind.annotation.XmlMimeType;
import javax.xml.ws.RequestWrapper;
import javax.xml.ws.ResponseWrapper;

/**
 * The service interface: document/literal wrapped, unqualified child elements.
 *
 * The wrapper classes are named explicitly and shipped as sources, because
 * Debian's Metro cannot generate them at run time (its shaded ASM is not
 * packaged).
 */
@WebService(name = "Interop", targetNamespace = Interop.NS)
@SOAPBinding(style = SOAPBinding.Style.DOCUMENT, use = SOAPBinding.Use.LITERAL,
        parameterStyle = SOAPBinding.ParameterStyle.WRAPPED)
public interface Interop {
    String NS = "urn:asyncmtom:interop";

    /** Reads the attachment as a stream and returns its size and SHA-256. */
    @WebMethod(operationName = "upload", action = "urn:asyncmtom:interop:upload")
    @WebResult(name = "return")
    @RequestWrapper(localName = "upload", targetNamespace = NS, className = "interop.Upload")
    @ResponseWrapper(localName = "uploadResponse", targetNamespace = NS,
            className = "interop.UploadResponse")
    Digest upload(@WebParam(name = "name") String name,
            @WebParam(name = "data") @XmlMimeType("application/octet-stream") DataHandler data);

    /** The same for each of several {@code data} elements, in document order. */
    @WebMethod(operationName = "uploadMany", action = "urn:asyncmtom:interop:uploadMany")
    @WebResult(name = "return")
    @RequestWrapper(localName = "uploadMany", targetNamespace = NS,
            className = "interop.UploadMany")
    @ResponseWrapper(localName = "uploadManyResponse", targetNamespace = NS,
            className = "interop.UploadManyResponse")
    List<Digest> uploadMany(@WebParam(name = "name") String name,
            @WebParam(name = "data") List<DataHandler> data);

    /**
     * Answers with an attachment of {@code size} bytes; byte {@code i} is
     * {@code i % 251}.  It is generated while it is written, never held.
     */
    @WebMethod(operationName = "download", action = "urn:asyncmtom:interop:download")
    @WebResult(name = "data")
    @XmlMimeType("application/octet-stream")
    @RequestWrapper(localName = "download", targetNamespace = NS,
            className = "interop.Download")
    @ResponseWrapper(localName = "downloadResponse", targetNamespace = NS,
            className = "interop.DownloadResponse")
    DataHandler download(@WebParam(name = "size") long size);
}
